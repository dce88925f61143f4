"""`zhllama rope ...`: RoPE scaling plans for a checkpoint and a target context."""

import json
from pathlib import Path

import click

from zhllama.errors import RopeScalingError

RUNTIME_CHOICES = ("transformers", "vllm", "llamacpp", "webui")


@click.group(name="rope")
def group() -> None:
    """RoPE scaling for long context (PI, NTK, adaptive NTK, YaRN)."""


def _read_config(source: str) -> dict:
    path = Path(source).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise RopeScalingError(
            f"{source!r} is neither a model folder with config.json  nor a config.json file"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RopeScalingError(f"{str(path)!r} is not valid JSON: {exc}") from exc


@group.command(name="plan")
@click.argument("model", metavar="MODEL_DIR_OR_CONFIG")
@click.option("--context", "-c", type=int, required=True, help="Target context length in tokens.")
@click.option("--method", "-m", default=None, help="Scaling method (default: the checkpoint's own choice).")
@click.option(
    "--runtime",
    "runtimes",
    type=click.Choice(RUNTIME_CHOICES),
    multiple=True,
    help="Show only this runtime (repeatable; default: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(
    model: str, context: int, method: str | None, runtimes: tuple[str, ...], as_json: bool
) -> None:
    """Show the RoPE settings that run MODEL at CONTEXT tokens in each runtime."""
    import warnings

    from zhllama.core.rope_scaling import RopeReachWarning, format_plan, plan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RopeReachWarning)  # the plan carries the text; printed below
        result = plan(_read_config(model), context, method)
    chosen = runtimes or RUNTIME_CHOICES
    if as_json:
        click.echo(json.dumps(result.as_dict(chosen), ensure_ascii=False, indent=2))
    else:
        click.echo(format_plan(result, chosen))
    for text in result.warnings:
        click.secho(f"Warning: {text}", fg="yellow", err=True)

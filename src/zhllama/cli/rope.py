"""`zhllama rope ...`: RoPE scaling plans for a checkpoint and a target context."""

import json

import click

from zhllama.cli.command import Group
from zhllama.cli.options import grouped_options

RUNTIME_CHOICES = ("transformers", "vllm", "llamacpp", "webui")


@click.group(cls=Group, name="rope")
def group() -> None:
    """RoPE scaling for long context (PI, NTK, adaptive NTK, YaRN, grouped attention)."""


@group.command(name="plan")
@click.argument("model", metavar="MODEL_DIR_OR_CONFIG")
@click.option(
    "--context", "-c", type=click.IntRange(min=1), required=True, help="Target context length in tokens."
)
@click.option(
    "--rope-method",
    "--method",
    "-m",
    "rope_method",
    default=None,
    help="Scaling method (default: plan's choice for the checkpoint and context).",
)
@grouped_options
@click.option(
    "--runtime",
    "runtimes",
    type=click.Choice(RUNTIME_CHOICES),
    multiple=True,
    help="Show only this runtime (repeatable; default: all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(
    model: str,
    context: int,
    rope_method: str | None,
    rope_params: dict[str, int],
    runtimes: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show the RoPE settings that run MODEL at CONTEXT tokens in each runtime."""
    import warnings

    from zhllama.core.model_config import read_model_config
    from zhllama.core.rope_scaling import RopeReachWarning, format_plan, plan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RopeReachWarning)  # the plan carries the text; printed below
        result = plan(read_model_config(model), context, rope_method, rope_params)
    chosen = runtimes or RUNTIME_CHOICES
    if as_json:
        click.echo(json.dumps(result.as_dict(chosen), ensure_ascii=False, indent=2))
    else:
        click.echo(format_plan(result, chosen))
    for text in result.warnings:
        click.secho(f"Warning: {text}", fg="yellow", err=True)

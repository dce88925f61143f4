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


@group.command(name="tune")
@click.argument("model", type=click.Path())
@click.option(
    "--context", "-c", type=click.IntRange(min=2), required=True, help="Target context length in tokens."
)
@click.option(
    "--data", "data", multiple=True, required=True, help="Your UTF-8 text (repeatable; one stream each)."
)
@click.option(
    "--methods",
    default=None,
    help="Comma-separated candidates, e.g. yarn,selfextend:32:128 (default: every method that fits "
    "the checkpoint and --runtime, grouped attention with several groups and windows).",
)
@click.option(
    "--runtime",
    type=click.Choice(RUNTIME_CHOICES),
    default="transformers",
    show_default=True,
    help="Where the winner will run (only methods it can run are candidates).",
)
@click.option(
    "--by",
    type=click.Choice(["all", "last"]),
    default="all",
    show_default=True,
    help="Rank by every prediction of each window, or by its last slice.",
)
@click.option(
    "--last", type=click.IntRange(min=1), default=None, help="Last slice [default: trained length - 1]."
)
@click.option("--max-windows", type=click.IntRange(min=1), default=None, help="At most N windows per file.")
@click.option(
    "--tail-tokens", type=click.IntRange(min=1), default=None, help="Use only the last N tokens of each file."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default="rope-tune.json",
    show_default=True,
    help="Where to write the winner (load keywords, CLI options, each runtime's settings) and the table.",
)
@click.option("--dtype", type=click.Choice(["float32", "bfloat16", "float16"]), default="float32")
@click.option("--device", default="cpu", show_default=True)
def tune_command(
    model: str,
    context: int,
    data: tuple[str, ...],
    methods: str | None,
    runtime: str,
    by: str,
    last: int | None,
    max_windows: int | None,
    tail_tokens: int | None,
    out: str,
    dtype: str,
    device: str,
) -> None:
    """Measure the candidate RoPE plans for MODEL at CONTEXT tokens on your text; write the winner."""
    from transformers.utils import logging as transformers_logging

    from zhllama.core.files import write_atomic
    from zhllama.evaluation.tuning import tune

    transformers_logging.disable_progress_bar()

    def on_start(length: int, method: str, windows: int) -> None:
        click.secho(f"measuring {method} on {windows} window(s) of {length} tokens", dim=True, err=True)

    result = tune(
        model,
        list(data),
        context,
        methods=methods,
        runtime=runtime,
        by=by,
        last=last,
        tail_tokens=tail_tokens,
        max_windows_per_file=max_windows,
        dtype=dtype,
        device=device,
        on_start=on_start,
    )
    write_atomic(out, json.dumps(result.as_dict(), ensure_ascii=False, indent=2) + "\n")
    click.echo(result.table())
    click.echo("")
    click.echo(f"winner ({result.by}): {result.winner}")
    click.echo(f"  load:  zhllama.load(MODEL, {', '.join(f'{k}={v!r}' for k, v in result.load.items())})")
    click.echo(f"  cli:   {' '.join(result.cli)}")
    click.echo(f"wrote {out} (each runtime's settings and the table)")

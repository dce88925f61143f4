"""`zhllama eval ...`: measure a model; `eval ppl` is perplexity per length and RoPE method, of a model
folder (transformers) or a GGUF file (llama.cpp) on the same windows."""

import sys

import click

from zhllama.cli.command import Group
from zhllama.evaluation.methods import EVAL_METHODS


@click.group(cls=Group, name="eval")
def group() -> None:
    """Evaluate a local model (long-context perplexity)."""


@group.command(name="ppl")
@click.argument("model", type=click.Path())
@click.option(
    "--data", "data", multiple=True, required=True, help="A UTF-8 text file (repeatable; one stream each)."
)
@click.option(
    "--lengths", default="256,512,1024,2048,4096", show_default=True, help="Window lengths in tokens."
)
@click.option(
    "--methods",
    default="none,pi,ntk,auto,yarn",
    show_default=True,
    help=f"Comma-separated, from: {', '.join(EVAL_METHODS)}.",
)
@click.option("--last", type=int, default=None, help="Size of the last slice (default: shortest length - 1).")
@click.option(
    "--tail-tokens", type=click.IntRange(min=1), default=None, help="Use only the last N tokens of each file."
)
@click.option(
    "--max-windows", type=click.IntRange(min=1), default=None, help="At most N windows per file and length."
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "bfloat16", "float16"]),
    default="float32",
    help="Weights of a model folder (a GGUF keeps its own) [default: float32].",
)
@click.option("--device", default="cpu", show_default=True, help="For a model folder.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="llama.cpp threads for a GGUF.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def ppl_command(
    model: str,
    data: tuple[str, ...],
    lengths: str,
    methods: str,
    last: int | None,
    tail_tokens: int | None,
    max_windows: int | None,
    dtype: str,
    device: str,
    threads: int | None,
    as_json: bool,
) -> None:
    """Perplexity of MODEL (a model folder, or a GGUF file run by llama.cpp) over whole windows and
    over their last slice, per length and method."""
    from pathlib import Path

    from transformers.utils import logging as transformers_logging

    from zhllama.evaluation.sweep import format_table, run_perplexity

    gguf = Path(model).expanduser().is_file()
    if gguf and (dtype != "float32" or device != "cpu"):
        raise click.UsageError("--dtype and --device apply to a model folder; a GGUF keeps its weight type")
    if not gguf and threads is not None:
        raise click.UsageError("--threads applies to a GGUF file (llama.cpp)")
    transformers_logging.disable_progress_bar()
    bar: dict[str, object] = {}

    def on_start(length: int, method: str, windows: int) -> None:
        _close(bar)
        bar["bar"] = click.progressbar(length=windows, label=f"L={length} {method}", file=sys.stderr)
        bar["bar"].__enter__()

    def on_window(length: int, method: str) -> None:
        bar["bar"].update(1)

    try:
        result = run_perplexity(
            model,
            list(data),
            lengths,
            methods,
            last=last,
            tail_tokens=tail_tokens,
            max_windows_per_file=max_windows,
            dtype=dtype,
            device=device,
            threads=threads,
            on_start=on_start,
            on_window=on_window,
        )
    finally:
        _close(bar)
    if as_json:
        click.echo(result.to_json())
        return
    click.echo(
        f"perplexity all / last {result.last} positions (* = plan's choice); {result.dtype}; {result.memory}"
    )
    click.echo(format_table(result))
    for row in result.rows:
        if row.seconds:
            click.echo(
                f"L={row.length} {row.method}: {row.windows} windows, {row.seconds:.1f} s, "
                f"peak {row.peak_memory_mib:.0f} MiB"
            )


def _close(bar: dict[str, object]) -> None:
    if "bar" in bar:
        bar.pop("bar").__exit__(None, None, None)

"""`zhllama gguf ...`: a local checkpoint as a GGUF file for llama.cpp, quantized by llama.cpp itself.

- ``export MODEL_DIR OUT [--dtype f32|f16] [--quant TYPE]``: write the GGUF (then quantize it);
- ``quantize IN OUT TYPE [--imatrix FILE]``: llama.cpp's quantizer on an f32/f16 GGUF;
- ``imatrix MODEL_DIR OUT --data FILE``: an importance matrix for the very-low-bit types.

Thin: the work is in ``zhllama.checkpoints.gguf``.
"""

from pathlib import Path

import click

from zhllama.cli.command import Group
from zhllama.cli.output import Progress

_IMATRIX = click.option(
    "--imatrix",
    type=click.Path(dir_okay=False),
    default=None,
    help="Importance matrix (zhllama gguf imatrix, or llama-imatrix's .gguf/.dat): needed by iq1/iq2 types.",
)
_THREADS = click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="Quantizer threads [default: every core]."
)


@click.group(cls=Group, name="gguf")
def group() -> None:
    """Convert models for llama.cpp and quantize them."""


@group.command(name="export")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--dtype",
    type=click.Choice(["f32", "f16"]),
    default="f32",
    show_default=True,
    help="Weight type written: f32 is exact for bf16/f32 checkpoints, f16 halves the file.",
)
@click.option(
    "--quant",
    default=None,
    help="Then quantize with llama.cpp to this type (q8_0, q6_k, q5_k_m, q4_k_m, q4_0, q3_k_m, q2_k, ...).",
)
@_IMATRIX
@_THREADS
@click.option(
    "--template", default="alpaca-2", show_default=True, help="Chat template written into the metadata."
)
def export_command(
    model_dir: str,
    out: str,
    dtype: str,
    quant: str | None,
    imatrix: str | None,
    threads: int | None,
    template: str,
) -> None:
    """Write MODEL_DIR (config.json, safetensors, tokenizer.model) as the GGUF file OUT."""
    from zhllama.checkpoints.gguf import export_gguf
    from zhllama.checkpoints.gguf.quantize import resolve_quant

    quant_name = resolve_quant(quant)[0] if quant is not None else None  # a bad type fails before any work
    if quant_name in ("f32", "f16"):
        dtype, quant_name = quant_name, None
    if quant_name is None:
        if imatrix is not None:
            raise click.UsageError("--imatrix applies to --quant TYPE only")
        path = export_gguf(model_dir, out, dtype=dtype, template=template)
        click.echo(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, {dtype})")
        return
    target = Path(out).expanduser()
    unquantized = target.with_name(f".{target.name}.{dtype}.gguf")
    try:
        export_gguf(model_dir, unquantized, dtype=dtype, template=template)
        _quantize(unquantized, target, quant_name, imatrix, threads)
    finally:
        unquantized.unlink(missing_ok=True)


@group.command(name="quantize")
@click.argument("source", metavar="IN", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.argument("quant", metavar="TYPE")
@_IMATRIX
@_THREADS
def quantize_command(source: str, out: str, quant: str, imatrix: str | None, threads: int | None) -> None:
    """Quantize the f32/f16 GGUF IN to TYPE into OUT with llama.cpp's quantizer.

    TYPE is one of llama.cpp's (q8_0, q6_k, q5_k_m, q4_k_m, q4_0, q3_k_m, q2_k, iq4_nl, ...;
    q4_k is q4_k_m as in llama-quantize)."""
    _quantize(Path(source), Path(out), quant, imatrix, threads)


def _quantize(source: Path, out: Path, quant: str, imatrix: str | None, threads: int | None) -> None:
    from zhllama.checkpoints.gguf.quantize import quantize_gguf

    with Progress(f"quantizing to {quant}") as progress:
        result = quantize_gguf(source, out, quant, imatrix=imatrix, threads=threads, on_tensor=progress)
    types = ", ".join(f"{count} {kind}" for kind, count in result.tensor_types.items())
    click.echo(f"wrote {result.path} ({result.size / 2**20:.1f} MiB, {result.quant}: {types})")
    for note in result.fallbacks:
        click.secho(f"# llama.cpp: {note}", fg="yellow", err=True)


@group.command(name="imatrix")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--data", "texts", multiple=True, required=True, help="A UTF-8 text file to measure on (repeatable)."
)
@click.option(
    "--chunk-tokens", type=click.IntRange(min=2), default=512, show_default=True, help="Tokens per chunk."
)
@click.option("--max-chunks", type=click.IntRange(min=1), default=None, help="Use at most N chunks.")
def imatrix_command(
    model_dir: str, out: str, texts: tuple[str, ...], chunk_tokens: int, max_chunks: int | None
) -> None:
    """Compute MODEL_DIR's importance matrix over --data into OUT (llama-imatrix's GGUF format)."""
    from transformers.utils import logging as transformers_logging

    from zhllama.checkpoints.gguf.imatrix import compute_imatrix

    transformers_logging.disable_progress_bar()
    with Progress("measuring") as progress:
        path = compute_imatrix(
            model_dir, list(texts), out, chunk_tokens=chunk_tokens, max_chunks=max_chunks, on_chunk=progress
        )
    click.echo(f"wrote {path}")

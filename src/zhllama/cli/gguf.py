"""`zhllama gguf export MODEL_DIR OUT`: convert a local checkpoint into a GGUF file for llama.cpp.

Thin: the work is in ``zhllama.checkpoints.gguf``.
"""

import click

from zhllama.cli.command import Group


@click.group(cls=Group, name="gguf")
def group() -> None:
    """Convert models for llama.cpp."""


@group.command(name="export")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--dtype",
    type=click.Choice(["f32", "f16"]),
    default="f32",
    show_default=True,
    help="Weight type: f32 is exact for bf16/f32 checkpoints, f16 halves the file.",
)
@click.option(
    "--template", default="alpaca-2", show_default=True, help="Chat template written into the metadata."
)
def export_command(model_dir: str, out: str, dtype: str, template: str) -> None:
    """Write MODEL_DIR (config.json, safetensors, tokenizer.model) as the GGUF file OUT."""
    from zhllama.checkpoints.gguf import export_gguf

    path = export_gguf(model_dir, out, dtype=dtype, template=template)
    click.echo(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB, {dtype})")

"""`zhllama convert MODEL_DIR OUT_DIR`: a pickled PyTorch checkpoint to safetensors, with no code run.

Thin: the work is in ``zhllama.checkpoints.convert``.
"""

import click

from zhllama.cli.command import Command
from zhllama.cli.output import Progress


@click.command(cls=Command, name="convert")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.argument("out_dir", type=click.Path(file_okay=False))
def command(model_dir: str, out_dir: str) -> None:
    """Write MODEL_DIR's pytorch_model*.bin weights as safetensors into the new folder OUT_DIR.

    The pickles are read with torch's weights-only loader (a file that would run code is refused)
    and streamed shard by shard; config, tokenizer and other files are copied."""
    from zhllama.checkpoints.convert import convert_checkpoint

    with Progress("converting") as progress:
        done = convert_checkpoint(model_dir, out_dir, on_shard=progress)
    click.echo(
        f"wrote {done.out_dir}: {done.tensors} tensors, {done.bytes / 2**20:.1f} MiB in "
        f"{len(done.shards)} safetensors file{'s' if len(done.shards) != 1 else ''}"
    )
    if done.skipped:
        click.echo(f"not copied (pickles, not needed to load the model): {', '.join(done.skipped)}")

"""`zhllama tokenizer ...`."""

import click


@click.group(name="tokenizer")
def group() -> None:
    """Work with the family's tokenizers."""

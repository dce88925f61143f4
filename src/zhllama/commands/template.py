"""`zhllama template ...`."""

import click


@click.group(name="template")
def group() -> None:
    """Work with the family's templates."""

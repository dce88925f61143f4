"""`zhllama webui ...`: install the text-generation-webui extension and instruction template."""

import click

from zhllama.cli.command import Group


@click.group(cls=Group, name="webui")
def group() -> None:
    """text-generation-webui integration."""


@group.command(name="install")
@click.argument("webui_dir", type=click.Path(file_okay=False))
@click.option("--uninstall", is_flag=True, help="Remove what install wrote instead.")
def install_command(webui_dir: str, uninstall: bool) -> None:
    """Install (idempotently) the zhllama extension and the Chinese-Alpaca-2 template into WEBUI_DIR."""
    from zhllama.adapters.webui import installer

    report = installer.uninstall(webui_dir) if uninstall else installer.install(webui_dir)
    for path, action in report.actions:
        click.echo(f"{action}\t{path}")
    if not uninstall:
        click.echo(
            "Next: start webui with `--extensions zhllama` (or add it to default_extensions) and pick the "
            "'Chinese-Alpaca-2' instruction template; zhllama must be importable in webui's Python."
        )

"""`zhllama doctor`."""

import json

import click


@click.command(name="doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(as_json: bool) -> None:
    """Report versions, plugins, adapters, kernels and assets."""
    from zhllama.doctor import format_report, report

    data = report()
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else format_report(data))

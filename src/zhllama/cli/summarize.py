"""`zhllama summarize FILE`: a summary with upstream's prompts, stuff or map-reduce by what fits."""

import json

import click

from zhllama.cli.command import Command
from zhllama.cli.options import model_options
from zhllama.cli.output import StepAnnouncer


@click.command(cls=Command, name="summarize")
@click.argument("file", type=click.Path(dir_okay=False))
@model_options
@click.option(
    "--chain",
    type=click.Choice(["auto", "stuff", "map_reduce", "refine"]),
    default="auto",
    show_default=True,
    help="auto: stuff when the whole document fits the model's context, else map_reduce.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary, chain and timings as JSON.")
def command(file, model, chain, as_json):
    """Summarise FILE (.txt .md .html .pdf .docx; GBK/Big5/UTF-16 detected), streaming the summary."""
    from zhllama.docqa.summarize import read_document, summarize_document

    spec = model.spec()
    document = read_document(file)  # an unreadable file fails before the model loads
    steps = StepAnnouncer()
    runner = model.runner(
        spec,
        on_text=None if as_json else lambda text: click.echo(text, nl=False),
        on_call=None if as_json else steps.on_call,
    )
    summary = summarize_document(document, runner, chain, on_chain=steps.on_chain)
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo()

"""`zhllama summarize FILE`: a summary with upstream's prompts, stuff or map-reduce by what fits."""

import json

import click

from zhllama.commands.qa import StepAnnouncer, model_options


@click.command(name="summarize")
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
def command(
    file,
    model,
    chain,
    as_json,
):
    """Summarise FILE (.txt .md .html .pdf .docx; GBK/Big5/UTF-16 detected), streaming the summary."""
    from zhllama.docqa.loading import load_document
    from zhllama.docqa.summarize import summarize_text
    from zhllama.errors import DocQAError

    spec = model.spec()
    try:
        document = load_document(file)
    except DocQAError as exc:
        raise DocQAError(f"cannot summarize {file}: {exc}") from exc
    steps = StepAnnouncer()
    runner = model.runner(
        spec,
        on_text=None if as_json else lambda text: click.echo(text, nl=False),
        on_call=None if as_json else steps.on_call,
    )
    summary = summarize_text(document.text, runner, chain, on_chain=steps.on_chain)
    if as_json:
        result = {**summary.as_dict(), "file": str(document.path), "encoding": document.encoding}
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo()

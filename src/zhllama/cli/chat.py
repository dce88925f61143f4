"""`zhllama chat`: one question, answered through the Alpaca-2 template by any backend."""

import click

from zhllama.cli.command import Command
from zhllama.cli.options import model_options


@click.command(cls=Command, name="chat")
@click.argument("question")
@model_options
@click.option("--template", default=None, help="Prompt template (default: chosen for the model).")
@click.option("--system", default=None, help="System prompt (default: the template's own).")
@click.option("--show-prompt/--no-show-prompt", default=True, show_default=True)
def command(question: str, model, template: str | None, system: str | None, show_prompt: bool) -> None:
    """Answer QUESTION with a local model (or a server), streaming the reply."""
    from zhllama.core.templates import DEFAULT_TEMPLATE, get_template, template_for_model

    spec = model.spec()
    if template is None:
        template = template_for_model(spec.location) if spec.kind == "transformers" else DEFAULT_TEMPLATE
    get_template(template)  # an unknown name fails before the model loads
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": question}
    ]
    backend = model.backend(spec)
    if show_prompt:
        click.secho(get_template(template).render(messages), dim=True, err=True)
        click.secho("-" * 40, dim=True, err=True)
    backend.complete(
        messages,
        template=template,
        sampling=model.sampling(),
        greedy=model.greedy,
        seed=model.seed,
        on_text=lambda text: click.echo(text, nl=False),
        **model.guidance(),
    )
    click.echo()

"""`zhllama chat`: one question, answered in-process through the Alpaca-2 template."""

import click

from zhllama.core.sampling import UPSTREAM, Sampling
from zhllama.errors import ModelLoadError


@click.command(name="chat")
@click.argument("question")
@click.option(
    "--model",
    "model_dir",
    envvar="ZHLLAMA_MODEL",
    type=click.Path(),
    help="A local Chinese-Alpaca-2 folder (default: $ZHLLAMA_MODEL, else the tiny test model in the assets).",
)
@click.option("--template", default=None, help="Prompt template (default: chosen for the model).")
@click.option("--system", default=None, help="System prompt (default: the template's own).")
@click.option("--max-new-tokens", type=int, default=UPSTREAM.max_new_tokens, show_default=True)
@click.option("--greedy", is_flag=True, help="Greedy decoding instead of upstream sampling.")
@click.option("--seed", type=int, default=None, help="Seed for sampling.")
@click.option("--show-prompt/--no-show-prompt", default=True, show_default=True)
def command(
    question: str,
    model_dir: str | None,
    template: str | None,
    system: str | None,
    max_new_tokens: int,
    greedy: bool,
    seed: int | None,
    show_prompt: bool,
) -> None:
    """Answer QUESTION with a local model, streaming the reply."""
    from dataclasses import replace

    from transformers.utils import logging as transformers_logging

    from zhllama.core.templates import get_template, template_for_model
    from zhllama.generation import generate_reply
    from zhllama.loading import load
    from zhllama.locations import default_model_dir

    folder = model_dir or default_model_dir()
    if folder is None:
        raise ModelLoadError(
            "no model given: pass --model /path/to/chinese-alpaca-2-7b (a local Hugging Face folder) or "
            "set ZHLLAMA_MODEL; the tiny test model is used when the shared assets are found (ZHLLAMA_ASSETS)"
        )
    template = template or template_for_model(folder)
    transformers_logging.disable_progress_bar()
    model, tokenizer = load(folder)
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": question}
    ]
    if show_prompt:
        click.secho(f"model: {folder}", dim=True, err=True)
        click.secho(get_template(template).render(messages), dim=True, err=True)
        click.secho("-" * 40, dim=True, err=True)
    sampling: Sampling = replace(UPSTREAM, max_new_tokens=max_new_tokens)
    generate_reply(
        model,
        tokenizer,
        messages,
        template=template,
        sampling=sampling,
        greedy=greedy,
        seed=seed,
        on_text=lambda text: click.echo(text, nl=False),
    )
    click.echo()

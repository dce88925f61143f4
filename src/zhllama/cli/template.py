"""`zhllama template ...`: list, render and export the family's prompt templates.

Thin: the work is in ``zhllama.core.templates``; this module parses options and prints.
"""

import json
from pathlib import Path

import click

from zhllama.cli.command import Group


@click.group(cls=Group, name="template")
def group() -> None:
    """Work with the family's templates."""


@group.command(name="list")
def list_command() -> None:
    """List the registered templates."""
    from zhllama.core.templates import list_templates

    for template in list_templates():
        click.echo(f"{template.name}\t{template.description}")


def _messages(system: str | None, users: tuple[str, ...], answers: tuple[str, ...], path: str | None) -> list:
    if path is not None:
        if users or answers or system is not None:
            raise click.UsageError("pass either --messages FILE or --system/--user/--assistant, not both")
        try:
            messages = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise click.BadParameter(
                f"{path} is not a readable JSON file: {exc}", param_hint="--messages"
            ) from exc
        if isinstance(messages, dict) and "messages" in messages:
            messages = messages["messages"]
        if not isinstance(messages, list):
            raise click.BadParameter(
                f"{path} holds a JSON {type(messages).__name__}: give a list of "
                '{"role": ..., "content": ...} messages, or {"messages": [...]}',
                param_hint="--messages",
            )
        return messages
    if not users:
        raise click.UsageError("pass at least one --user TEXT, or --messages FILE")
    if len(answers) not in (len(users) - 1, len(users)):
        raise click.UsageError(
            f"{len(users)} --user and {len(answers)} --assistant: users and answers alternate, so give one "
            "answer per user message, or one fewer"
        )
    messages = [{"role": "system", "content": system}] if system is not None else []
    for index, user in enumerate(users):
        messages.append({"role": "user", "content": user})
        if index < len(answers):
            messages.append({"role": "assistant", "content": answers[index]})
    return messages


@group.command(name="render")
@click.option("--template", "name", default="alpaca-2", show_default=True, help="Template name (see `list`).")
@click.option("--system", default=None, help="System prompt (default: the template's own).")
@click.option("--user", "users", multiple=True, help="A user message; repeat for several turns.")
@click.option("--assistant", "answers", multiple=True, help="An answer; the n-th follows the n-th --user.")
@click.option(
    "--messages", "messages_file", type=click.Path(exists=True, dir_okay=False), help="JSON list of messages."
)
@click.option(
    "--ids", "tokenizer_dir", default=None, help="Also print the safe token ids, using this tokenizer."
)
def render_command(
    name: str,
    system: str | None,
    users: tuple[str, ...],
    answers: tuple[str, ...],
    messages_file: str | None,
    tokenizer_dir: str | None,
) -> None:
    """Print the prompt a conversation renders to (and, with --ids, its token ids)."""
    from zhllama.core.templates import encode_messages, get_template

    messages = _messages(system, users, answers, messages_file)
    template = get_template(name)
    add_generation_prompt = (
        not messages or not isinstance(messages[-1], dict) or messages[-1].get("role") != "assistant"
    )
    click.echo(template.render(messages, add_generation_prompt=add_generation_prompt))
    if tokenizer_dir is not None:
        from zhllama.core.tokenizer import load_tokenizer

        ids = encode_messages(load_tokenizer(tokenizer_dir), template, messages, add_generation_prompt)
        click.echo(json.dumps(ids))


@group.command(name="export")
@click.option(
    "--format",
    "fmt",
    required=True,
    type=click.Choice(["hf", "vllm", "webui", "llamacpp", "privategpt", "jinja"]),
)
@click.option("--template", "name", default="alpaca-2", show_default=True, help="Template name (see `list`).")
@click.option("--model-dir", type=click.Path(file_okay=False), help="hf: the model folder to write into.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of printing (not for hf).")
def export_command(fmt: str, name: str, model_dir: str | None, out: str | None) -> None:
    """Export a template for transformers, vLLM, text-generation-webui, llama.cpp or privateGPT."""
    from zhllama.core.templates import exports, get_template

    template = get_template(name)
    if fmt == "hf":
        if model_dir is None:
            raise click.UsageError("--format hf writes into a model folder: pass --model-dir DIR")
        path = exports.write_hf_chat_template(template, model_dir)
        click.echo(f"wrote chat_template ({template.name}) to {path} (previous file kept as {path.name}.bak)")
    elif out is not None:
        path = exports.write_export(template, fmt, out)
        click.echo(f"wrote {fmt} export of {template.name} to {path}")
    else:
        click.echo(exports.export_text(template, fmt), nl=False)

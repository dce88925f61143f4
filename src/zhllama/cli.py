"""The ``zhllama`` command line: a thin shell; each command delegates to a library module."""

import click

from zhllama import __version__
from zhllama.commands import chat, doctor, gguf, qa, rope, template, tokenizer, vllm, webui
from zhllama.commands import eval as eval_command
from zhllama.commands import privategpt as privategpt_command
from zhllama.commands import summarize as summarize_command
from zhllama.errors import ZhllamaError


class _Group(click.Group):
    """Turns every ``ZhllamaError`` into a one-line ``Error: ...`` and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ZhllamaError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="zhllama")
def main() -> None:
    """Chinese-LLaMA-2 / Chinese-Alpaca-2 in the tools you already use."""


main.add_command(chat.command)
main.add_command(doctor.command)
main.add_command(eval_command.group)
main.add_command(gguf.group)
main.add_command(privategpt_command.group)
main.add_command(qa.group)
main.add_command(rope.group)
main.add_command(summarize_command.command)
main.add_command(template.group)
main.add_command(tokenizer.group)
main.add_command(vllm.group)
main.add_command(webui.group)

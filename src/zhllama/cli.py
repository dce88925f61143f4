"""The ``zhllama`` command line: a thin shell; each command delegates to a library module."""

import click

from zhllama import __version__
from zhllama.commands import chat, doctor, template, tokenizer


@click.group()
@click.version_option(__version__, prog_name="zhllama")
def main() -> None:
    """Chinese-LLaMA-2 / Chinese-Alpaca-2 in the tools you already use."""


main.add_command(chat.command)
main.add_command(doctor.command)
main.add_command(template.group)
main.add_command(tokenizer.group)

"""The ``zhllama`` command group: every command module's command, added in one place."""

import click

from zhllama import __version__
from zhllama.cli import (
    chat,
    doctor,
    eval,
    gguf,
    privategpt,
    qa,
    rope,
    serve,
    summarize,
    template,
    tokenizer,
    vllm,
    webui,
)
from zhllama.cli.command import Group


@click.group(cls=Group)
@click.version_option(__version__, prog_name="zhllama")
def main() -> None:
    """Chinese-LLaMA-2 / Chinese-Alpaca-2 in the tools you already use."""


for _module in (
    chat,
    doctor,
    eval,
    gguf,
    privategpt,
    qa,
    rope,
    serve,
    summarize,
    template,
    tokenizer,
    vllm,
    webui,
):
    main.add_command(getattr(_module, "command", None) or _module.group)

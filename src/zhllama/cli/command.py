"""The click classes every ``zhllama`` command uses, and how library errors reach the person who typed one.

A ``ZhllamaError`` becomes a one-line ``Error: ...`` with exit status 1, never a traceback. Library
errors name the parameter they are about in backticks (`db`, `openai_base_url`); here each such
name is shown as the option of the running command that sets it (``--db``,
``--openai-base-url``), so the same error reads right in Python and on the command line.
"""

import re
from typing import Any

import click

from zhllama.errors import ZhllamaError

_PARAMETER = re.compile(r"`(\w+)`")


def as_options(message: str, command: click.Command) -> str:
    """``message`` with each backticked parameter name that ``command`` has an option for replaced by
    that option's flag (an argument's by its name as the usage line shows it, ``MODEL_DIR``)."""
    flags = {
        param.name: max(param.opts, key=len) if isinstance(param, click.Option) else param.human_readable_name
        for param in command.params
        if isinstance(param, click.Option | click.Argument) and param.name
    }
    return _PARAMETER.sub(lambda match: flags.get(match.group(1), match.group(0)), message)


class Command(click.Command):
    """A command whose ``ZhllamaError`` is printed as ``Error: ...`` in its own option names."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZhllamaError as exc:
            raise click.ClickException(as_options(str(exc), self)) from exc


class Group(click.Group):
    """A group whose subcommands are ``Command``s (and subgroups ``Group``s)."""

    command_class = Command
    group_class = type

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZhllamaError as exc:  # raised outside a Command (a callback, a subgroup's setup)
            raise click.ClickException(str(exc)) from exc

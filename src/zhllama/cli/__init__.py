"""The ``zhllama`` command line: ``main`` (the group, in ``app``) and one module per command, each
a thin layer over a library module: it parses options, calls the library and prints. Library
errors name parameters; ``command`` shows them as the options a person typed."""

from zhllama.cli.app import main

__all__ = ["main"]

"""The built-in templates, registered through the plugin hook like any third-party template."""

from zhllama.hookspecs import hookimpl


@hookimpl
def register_templates(register) -> None:
    """(templates helper fills this in)"""

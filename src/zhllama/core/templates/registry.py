"""Templates by name: the built-in ones, plus those plugins register (``register_templates``).

Looking up a built-in name loads no plugin; an unknown name, or a listing, merges the plugins'
templates in (once per process).
"""

from zhllama.core.templates.builtin import BUILTIN_TEMPLATES
from zhllama.core.templates.model import Template
from zhllama.errors import TemplateError

DEFAULT_TEMPLATE = "alpaca-2"
HOOK = "register_templates"


def templates() -> dict[str, Template]:
    """Every template by name: built-in first, then the plugins'."""
    from zhllama.plugins import merged

    registered = merged(HOOK, BUILTIN_TEMPLATES, check=lambda value: isinstance(value, Template))
    return {name: entry.value for name, entry in registered.items()}


def list_templates() -> list[Template]:
    """Every template, sorted by name."""
    return [template for _, template in sorted(templates().items())]


def get_template(name: str = DEFAULT_TEMPLATE) -> Template:
    """The template registered as ``name``; an unknown name raises ``TemplateError`` naming the known ones."""
    if name in BUILTIN_TEMPLATES:
        return BUILTIN_TEMPLATES[name]
    known = templates()
    if name not in known:
        raise TemplateError(f"unknown template {name!r}: known templates are {', '.join(sorted(known))}")
    return known[name]


def resolve_template(template: str | Template) -> Template:
    """A ``Template`` as given, or the template registered under that name."""
    return template if isinstance(template, Template) else get_template(template)

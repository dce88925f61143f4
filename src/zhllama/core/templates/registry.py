"""Look templates up by name in the plugin registry (built-in and third-party alike)."""

from zhllama.core.templates.model import Template
from zhllama.errors import TemplateError

DEFAULT_TEMPLATE = "alpaca-2"


def _templates() -> dict[str, Template]:
    from zhllama.plugins import registry

    return registry("register_templates")


def list_templates() -> list[Template]:
    """Every registered template, sorted by name."""
    return [template for _, template in sorted(_templates().items())]


def get_template(name: str = DEFAULT_TEMPLATE) -> Template:
    """The template registered as ``name``; an unknown name raises ``TemplateError`` naming the known ones."""
    templates = _templates()
    if name not in templates:
        known = ", ".join(sorted(templates)) or "(none)"
        raise TemplateError(f"unknown template {name!r}: known templates are {known}")
    template = templates[name]
    if not isinstance(template, Template):
        raise TemplateError(
            f"template {name!r} was registered as a {type(template).__name__}, not a zhllama Template: "
            "fix the plugin that registers it"
        )
    return template

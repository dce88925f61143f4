"""Which template a model folder should use, decided by the ``choose_template`` plugin hook."""

import json
import os
from pathlib import Path

from zhllama.core.templates.registry import DEFAULT_TEMPLATE
from zhllama.errors import TemplateError


def template_for_model(model_dir: str | os.PathLike) -> str:
    """The template name the plugins choose for the model's ``config.json``; ``alpaca-2`` if none does."""
    from zhllama.plugins import first_result

    config_path = Path(model_dir) / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return DEFAULT_TEMPLATE
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TemplateError(f"{config_path} is not valid JSON ({exc}): fix or restore the file") from exc
    return first_result("choose_template", config=config) or DEFAULT_TEMPLATE

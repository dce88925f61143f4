"""Give webui upstream's sampling defaults where webui itself keeps its defaults, once, at startup.

webui has two places for defaults, and the extension sets both in ``setup()``:

- ``shared.settings``: the UI's sliders start from it, per browser session; a value there that
  differs from webui's start value came from the user's ``settings.yaml`` and is kept.
- ``shared.args``: the API's request models (``modules/api/typing.py``) read their defaults from it
  when the API starts, after extensions' ``setup()``. A value given on the command line
  (``--temperature 0.7``, webui's "API generation defaults") is kept.

Nothing is changed per request, so a request's explicit value (``temperature=1.0`` included) is
what it gets, and no request changes what the next one gets.
"""

from collections.abc import Collection, Mapping, MutableMapping
from typing import Any

from zhllama.core.sampling import UPSTREAM


def seed_settings(
    settings: MutableMapping[str, Any],
    webui_start: Mapping[str, Any],
    ours: Mapping[str, Any] | None = None,
) -> list[str]:
    """Put our values into webui's UI settings where they still hold webui's start values; return the keys."""
    changed = []
    for key, value in dict(UPSTREAM.as_dict() if ours is None else ours).items():
        if key in settings and key in webui_start and settings[key] == webui_start[key]:
            settings[key] = value
            changed.append(key)
    return changed


def seed_api_defaults(
    args: Any,
    provided: Collection[str],
    ours: Mapping[str, Any] | None = None,
) -> list[str]:
    """Put our values into webui's parsed arguments that the command line did not give; return the names.

    Only keys webui has as arguments (temperature, top_k, top_p, repetition_penalty) are touched;
    ``max_new_tokens`` is the API's own 512, upstream's value already.
    """
    changed = []
    for key, value in dict(UPSTREAM.as_dict() if ours is None else ours).items():
        if hasattr(args, key) and key not in provided:
            setattr(args, key, value)
            changed.append(key)
    return changed

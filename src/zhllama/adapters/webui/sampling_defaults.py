"""Give webui upstream's sampling defaults without fighting the user's own choices.

webui rebuilds its generation state from the UI for every message, so "apply once" cannot mean
"write once". ``SamplingDefaults`` replaces a value only while it still equals webui's neutral
default; the first time a key holds anything else (a slider moved, a preset chosen, an API
request's value) the key is the user's for the rest of the session and is never touched again.
``seed_settings`` additionally makes webui's own sliders start at the family's values.
"""

from collections.abc import Mapping, MutableMapping
from typing import Any

from zhllama.core.sampling import UPSTREAM


class SamplingDefaults:
    """Tracks, per key, whether the user has chosen a value; applies ours where they have not."""

    def __init__(self, webui_defaults: Mapping[str, Any], ours: Mapping[str, Any] | None = None) -> None:
        self.ours = dict(UPSTREAM.as_dict() if ours is None else ours)
        self.webui_defaults = dict(webui_defaults)
        self.chosen: set[str] = set()

    def apply(self, state: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """Set our value for every key the user has not chosen; return ``state`` (changed in place)."""
        for key, value in self.ours.items():
            if key not in state or key in self.chosen or state[key] == value:
                continue
            if key in self.webui_defaults and state[key] == self.webui_defaults[key]:
                state[key] = value
            else:
                self.chosen.add(key)
        return state


def seed_settings(
    settings: MutableMapping[str, Any],
    webui_defaults: Mapping[str, Any],
    ours: Mapping[str, Any] | None = None,
) -> list[str]:
    """Put our values into webui's UI settings where they still hold webui's defaults; return the keys.

    A value the user set in ``settings.yaml`` differs from the default and is kept.
    """
    changed = []
    for key, value in dict(UPSTREAM.as_dict() if ours is None else ours).items():
        if key in settings and key in webui_defaults and settings[key] == webui_defaults[key]:
            settings[key] = value
            changed.append(key)
    return changed

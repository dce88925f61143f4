"""Errors a webui user sees, in the chat window and from the API, instead of only in the log.

An exception from an extension hook reaches webui's UI as gradio's bare "Error" (or nothing) and the
API as an HTTP 500, with the message only in the server log. webui shows a message in two ways:
gradio's ``gr.Error`` (a pop-up in the UI) and its API's ``InvalidRequestError`` (an HTTP 400 whose
body carries the message). ``shown_error`` makes one exception that is both, so the same raise is
readable whichever way the request came.
"""

from typing import Any


def _bases() -> tuple[type, ...]:
    bases: list[type] = []
    try:
        import gradio as gr

        bases.append(gr.Error)
    except ImportError:  # webui's API-only installs may lack gradio
        pass
    try:
        from modules.api.errors import InvalidRequestError

        bases.append(InvalidRequestError)
    except ImportError:  # not inside webui
        pass
    return tuple(bases) or (Exception,)


def shown_error(message: str, param: str | None = None) -> Exception:
    """An exception webui shows the user: a UI pop-up and an API 400, both saying ``message``.

    ``param`` names the setting to change (reported by the API as the error's ``param``).
    """

    def __init__(self: Any, text: str) -> None:
        Exception.__init__(self, text)
        self.message = text
        self.duration, self.visible, self.title, self.print_exception = None, True, "zhllama", False  # gradio
        self.code, self.param, self.internal_message = 400, param, ""  # webui's InvalidRequestError

    def __str__(self: Any) -> str:
        return self.message

    error_class = type("ZhllamaPromptError", _bases(), {"__init__": __init__, "__str__": __str__})
    return error_class(message)

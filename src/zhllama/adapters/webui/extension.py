"""The hooks webui calls, as the installed ``script.py`` shim re-exports them.

webui's ``import modules.shared`` parses ``sys.argv``, so nothing here imports a webui module at
import time: each hook imports what it needs when webui calls it (webui is running by then).
Call shapes are webui's (2026): ``custom_generate_chat_prompt(text, state, _continue=..., history=
{'internal': ..., 'visible': ..., 'metadata': ...})``, ``state_modifier(state)``,
``input_modifier(text, state, is_chat=...)``, ``chat_input_modifier(text, visible_text, state)``,
``setup()`` once after ``params`` got the saved settings (and after ``--model`` was loaded),
``ui()`` inside webui's gradio Blocks.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from zhllama.adapters.webui.control_text import keep_as_text
from zhllama.adapters.webui.loading import Prepared, install_loader_patch, prepare
from zhllama.adapters.webui.long_context import AppliedPlan
from zhllama.adapters.webui.prompt import build_prompt
from zhllama.adapters.webui.sampling_defaults import seed_api_defaults, seed_settings
from zhllama.adapters.webui.settings import default_params
from zhllama.adapters.webui.user_errors import shown_error
from zhllama.errors import ZhllamaError

logger = logging.getLogger("textgen.zhllama")

TEMPLATE_NAME = "alpaca-2"

params: dict[str, Any] = default_params()

_applied: dict[str, AppliedPlan | None] = {"plan": None}


def _shared() -> Any:
    import modules.shared as shared

    return shared


def _webui_start_values(shared: Any) -> dict[str, Any]:
    """The sampling values webui starts with: its defaults, then the startup preset over them."""
    values = dict(shared.default_settings)
    try:
        from modules.presets import load_preset

        values.update(load_preset(shared.settings.get("preset")))
    except Exception as exc:  # a missing or broken preset leaves webui's plain defaults
        logger.warning("zhllama: could not read webui's startup preset (%s)", exc)
    return values


def _model_folder(model_name: str) -> Path:
    from modules.utils import resolve_model_path

    return Path(resolve_model_path(model_name))


def _record(prepared: Prepared) -> None:
    _applied["plan"] = prepared.applied


def _adopt_startup_model(shared: Any) -> None:
    """webui loads ``--model`` before extensions' ``setup()``: give that model what a later load gets."""
    if shared.model is None or shared.model_name in (None, "None") or shared.args.loader != "Transformers":
        return
    prepared = prepare(shared.model, _model_folder(shared.model_name), params)
    if prepared.tokenizer is not None:
        shared.tokenizer = prepared.tokenizer
    _record(prepared)


def setup() -> None:
    """Seed sampling defaults, wrap the Transformers loader, adopt the startup model; never raises."""
    try:
        shared = _shared()
        if params.get("sampling_defaults"):
            seed_settings(shared.settings, _webui_start_values(shared))
            seed_api_defaults(shared.args, shared.provided_arguments)
        import modules.models as models

        if not install_loader_patch(models, _model_folder, params, _record):
            logger.warning(
                "zhllama: this webui has no modules.models.transformers_loader; the exact tokenizer and "
                "long-context mode are off (use `zhllama rope plan MODEL --context N --runtime webui`)"
            )
        _adopt_startup_model(shared)
    except Exception:
        logger.exception("zhllama: setup failed; the prompt hooks still work")


def custom_generate_chat_prompt(user_input: str, state: dict, **kwargs: Any) -> str | None:
    """Our template and truncation over webui's history; None hands the prompt back to webui.

    A prompt that cannot be built (the settings leave no room, the last message alone is too long)
    is an error the user sees: a pop-up in the UI, an HTTP 400 from the API.
    """
    from zhllama.core.templates import get_template

    shared = _shared()
    try:
        return build_prompt(
            user_input,
            state,
            params,
            get_template(TEMPLATE_NAME),
            history=kwargs.get("history", state["history"]),
            continue_=bool(kwargs.get("_continue", False)),
            tokenizer=_budget_tokenizer(shared.tokenizer),
            bos_token=getattr(shared, "bos_token", "<s>") or "<s>",
        )
    except ZhllamaError as exc:
        logger.error("zhllama: %s", exc)
        raise shown_error(str(exc)) from exc


def _budget_tokenizer(tokenizer: Any) -> Any:
    """What counts tokens for the budget: webui's tokenizer when it is a transformers one (exact),
    else webui's own ``encode`` (llama.cpp's ``/tokenize``); None when no model is loaded."""
    if tokenizer is None:
        return None
    if hasattr(tokenizer, "convert_tokens_to_ids"):
        return tokenizer
    from modules.text_generation import encode

    return EncodeCounter(lambda text: list(encode(text, add_special_tokens=False, add_bos_token=False)[0]))


class EncodeCounter:
    """Looks enough like a transformers tokenizer for ``truncate_history`` to count with ``encode``.

    Only lengths matter: BOS/EOS placeholders are -1/-2 and never reach a model.
    """

    bos_token_id = -1
    eos_token_id = -2

    def __init__(self, encode: Any) -> None:
        self._encode = encode

    def __call__(self, text: str, **_: Any) -> dict[str, list[int]]:
        return {"input_ids": self._encode(text)}


def state_modifier(state: dict) -> dict:
    """The long-context length: webui's trained-length truncation raised to the planned target."""
    applied = _applied["plan"]
    if applied is not None and state.get("truncation_length") == applied.trained_length:
        state["truncation_length"] = applied.target_context
    return state


def input_modifier(text: str, state: dict, is_chat: bool = False) -> str:
    """In chat, typed ``<s>``/``</s>``/``<unk>`` stay text; a notebook prompt is left as written."""
    return keep_as_text(text) if is_chat else text


def chat_input_modifier(text: str, visible_text: str, state: dict) -> tuple[str, str]:
    """The internal text with control strings kept as text; the visible text unchanged."""
    return keep_as_text(text), visible_text


def ui() -> None:
    """The extension's controls (see ``zhllama.adapters.webui.ui``)."""
    from zhllama.adapters.webui.ui import build_ui

    build_ui(params)

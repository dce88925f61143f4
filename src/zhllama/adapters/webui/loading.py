"""What the extension does to every model webui loads with its Transformers loader.

webui's ``transformers_loader(model_name)`` returns the model alone, and ``load_model`` then builds
the tokenizer with ``AutoTokenizer.from_pretrained``: for a stock Chinese-LLaMA-2 folder that is
transformers' converted BPE, which starts ``[INST]`` after ``<s>`` with ``[`` (29961) where
SentencePiece has ``▁[`` (518) and segments about a quarter of Chinese lines differently. So
``wrap_loader`` returns ``(model, tokenizer)`` instead, with zhllama's exact tokenizer
(``load_tokenizer``) for folders of the family; ``load_model`` takes a tuple's tokenizer as is. It
also applies the RoPE plan when long context is on (``long_context``). ``load_model`` looks
``modules.models.transformers_loader`` up on every load, so the wrapper sees every Transformers load
from the UI or the API; the model ``--model`` loads at startup comes *before* extensions'
``setup()``, which therefore hands it to ``prepare`` itself. The user's model folder is never changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zhllama.adapters.webui.long_context import AppliedPlan, apply_rope_plan, rope_plan_for_folder
from zhllama.errors import ZhllamaError

logger = logging.getLogger("textgen.zhllama")

_WRAPPED = "__zhllama_original__"


@dataclass(frozen=True)
class Prepared:
    """What ``prepare`` gave a loaded model: the exact tokenizer (None: webui's own), the RoPE plan."""

    tokenizer: Any = None
    applied: AppliedPlan | None = None


def exact_tokenizer(folder: str | Path) -> Any:
    """zhllama's SentencePiece-exact tokenizer for a folder of the family, else None.

    The family is told by its vocabulary (55,296 pieces for Chinese-LLaMA-2, 49,953/49,954 for the
    first generation, the sizes the template rule knows); other models keep webui's tokenizer.
    """
    from zhllama.core.templates.selection import TEMPLATE_BY_VOCABULARY
    from zhllama.core.tokenizer import load_tokenizer
    from zhllama.core.tokenizer.model_file import MODEL_FILENAME, read_model_proto

    model_file = Path(folder) / MODEL_FILENAME
    if not model_file.is_file() or len(read_model_proto(model_file).pieces) not in TEMPLATE_BY_VOCABULARY:
        return None
    return load_tokenizer(folder)


def prepare(model: Any, folder: str | Path, params: Mapping[str, Any]) -> Prepared:
    """The exact tokenizer for ``folder`` and, with ``params['long_context']``, the RoPE plan applied.

    Never raises: a failure is logged and webui keeps what it built (its tokenizer, unscaled RoPE).
    """
    tokenizer = applied = None
    try:
        tokenizer = exact_tokenizer(folder)
        if tokenizer is not None:
            logger.info("zhllama: %s tokenizes exactly as SentencePiece does", Path(folder).name)
    except (ZhllamaError, OSError, ValueError) as exc:
        logger.error("zhllama: keeping webui's tokenizer for %s: %s", folder, exc)
    if params.get("long_context"):
        try:
            rope_plan = rope_plan_for_folder(folder, int(params["target_context"]))
            if rope_plan is not None:
                applied = apply_rope_plan(model, rope_plan)
                logger.info(
                    "zhllama: %s RoPE scaling %s for %d tokens (trained %d)",
                    applied.method,
                    applied.rope_parameters,
                    applied.target_context,
                    applied.trained_length,
                )
        except (ZhllamaError, ValueError, OSError) as exc:
            logger.error("zhllama: long-context mode not applied to %s: %s", folder, exc)
    return Prepared(tokenizer, applied)


def wrap_loader(
    loader: Callable[[str], Any],
    model_folder: Callable[[str], Path],
    params: Mapping[str, Any],
    on_loaded: Callable[[Prepared], None],
) -> Callable[[str], Any]:
    """``loader`` followed by ``prepare``; returns ``(model, exact tokenizer)`` when there is one."""

    def load_with_zhllama(model_name: str) -> Any:
        output = loader(model_name)
        model = output[0] if isinstance(output, tuple) else output
        if model is None:
            on_loaded(Prepared())
            return output
        prepared = prepare(model, model_folder(model_name), params)
        on_loaded(prepared)
        if prepared.tokenizer is not None:
            return (model, prepared.tokenizer)
        return output

    setattr(load_with_zhllama, _WRAPPED, loader)
    return load_with_zhllama


def install_loader_patch(
    models_module: Any,
    model_folder: Callable[[str], Path],
    params: Mapping[str, Any],
    on_loaded: Callable[[Prepared], None],
) -> bool:
    """Wrap ``models_module.transformers_loader`` once; True when the wrapper is in place."""
    current = getattr(models_module, "transformers_loader", None)
    if current is None:
        return False
    if hasattr(current, _WRAPPED):
        current = getattr(current, _WRAPPED)
    models_module.transformers_loader = wrap_loader(current, model_folder, params, on_loaded)
    return True


def uninstall_loader_patch(models_module: Any) -> None:
    """Put webui's own loader back (no-op when it is not wrapped)."""
    current = getattr(models_module, "transformers_loader", None)
    if current is not None and hasattr(current, _WRAPPED):
        models_module.transformers_loader = getattr(current, _WRAPPED)

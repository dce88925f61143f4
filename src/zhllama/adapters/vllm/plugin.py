"""The ``vllm.general_plugins`` entry point: teach vLLM's ``get_rope`` zhllama's rope types.

vLLM has no registry of rope types: ``vllm.model_executor.layers.rotary_embedding.get_rope`` is
one if/elif chain, and each model module (``vllm.model_executor.models.llama`` and about a hundred
more) binds the function with ``from ... import get_rope`` at import time. ``install`` therefore
replaces the function on the rotary-embedding package, so modules imported later bind the
wrapper, and also on every already-imported module whose ``get_rope`` is vLLM's original. The
wrapper builds a ``ZhllamaRotaryEmbedding`` for ``zhllama_*`` types and calls vLLM's own function
for every other type, unchanged (vLLM's errors for unknown types included).

vLLM calls ``register`` in every process it starts (API server, engine core, each tensor-parallel
worker), possibly more than once: ``install`` is idempotent and ``uninstall`` restores vLLM.
"""

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any

import torch

from zhllama.adapters.vllm.rotary import build, is_zhllama_type
from zhllama.errors import RopeScalingError

ROTARY_MODULE = "vllm.model_executor.layers.rotary_embedding"
ORIGINAL_ATTRIBUTE = "__zhllama_original__"


def _served_max_model_len() -> int | None:
    """The engine's ``max_model_len`` while vLLM builds a model (None outside an engine)."""
    from vllm.config import get_current_vllm_config_or_none

    config = get_current_vllm_config_or_none()
    model_config = getattr(config, "model_config", None)
    length = getattr(model_config, "max_model_len", None)
    return int(length) if length else None


def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    """A ``get_rope`` that handles ``zhllama_*`` rope types and defers the rest to ``original``."""
    signature = inspect.signature(original)
    cache: dict[tuple[Any, ...], Any] = {}

    @functools.wraps(original)
    def get_rope(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        rope_parameters = bound.arguments.get("rope_parameters")
        if not is_zhllama_type(rope_parameters):
            return original(*args, **kwargs)
        bound.apply_defaults()
        arguments = bound.arguments
        if arguments.get("dual_chunk_attention_config") is not None:
            raise RopeScalingError(
                f"rope type {rope_parameters['rope_type']!r} cannot be combined with dual-chunk attention"
            )
        head_size = int(arguments["head_size"])
        partial = rope_parameters.get("partial_rotary_factor", 1.0)
        rotary_dim = int(rope_parameters.get("rope_dim") or head_size * partial)
        dtype = arguments.get("dtype") or torch.get_default_dtype()
        served = _served_max_model_len()
        key = (
            head_size,
            rotary_dim,
            int(arguments["max_position"]),
            bool(arguments["is_neox_style"]),
            tuple(sorted((k, repr(v)) for k, v in rope_parameters.items())),
            dtype,
            served,
        )
        if key not in cache:
            cache[key] = build(
                head_size,
                rotary_dim,
                int(arguments["max_position"]),
                bool(arguments["is_neox_style"]),
                rope_parameters,
                dtype,
                served_max_model_len=served,
            )
        return cache[key]

    setattr(get_rope, ORIGINAL_ATTRIBUTE, original)
    return get_rope


def _original_of(function: Any) -> Any:
    return getattr(function, ORIGINAL_ATTRIBUTE, function)


def _bound_get_rope(module: Any) -> Any:
    # the module's own namespace only: a lazy module's __getattr__ could import things
    return getattr(module, "__dict__", {}).get("get_rope")


def installed() -> bool:
    """True when vLLM's ``get_rope`` is currently zhllama's wrapper."""
    module = sys.modules.get(ROTARY_MODULE)
    return module is not None and hasattr(module.get_rope, ORIGINAL_ATTRIBUTE)


def install() -> list[str]:
    """Wrap vLLM's ``get_rope`` everywhere it is bound; return the modules patched in this call.

    Idempotent: a second call finds the wrapper in place and patches only modules that imported
    vLLM's original since (none, normally).
    """
    import importlib

    rotary = importlib.import_module(ROTARY_MODULE)
    original = _original_of(rotary.get_rope)
    wrapper = rotary.get_rope if rotary.get_rope is not original else wrap(original)
    patched = []
    for name, module in list(sys.modules.items()):
        if _bound_get_rope(module) is original:
            module.get_rope = wrapper
            patched.append(name)
    return patched


def uninstall() -> list[str]:
    """Put vLLM's own ``get_rope`` back wherever the wrapper is bound; return those modules."""
    restored = []
    for name, module in list(sys.modules.items()):
        function = _bound_get_rope(module)
        if function is not None and hasattr(function, ORIGINAL_ATTRIBUTE):
            module.get_rope = getattr(function, ORIGINAL_ATTRIBUTE)
            restored.append(name)
    return restored


def register() -> None:
    """The ``vllm.general_plugins`` entry point (``zhllama_rope``): ``install()``, and exact decoding.

    A folder fixed by ``zhllama tokenizer check --fix`` loads as transformers' ``SentencePieceBackend``,
    whose own decoding shows byte-fallback pieces as text; vLLM detokenizes through it.
    """
    from zhllama.patching import install_exact_decoding

    install()
    install_exact_decoding()

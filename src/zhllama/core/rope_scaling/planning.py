"""``plan(config, target_context, method=None)``: the right RoPE scaling for a checkpoint and a
target length, rendered for each runtime.

Which method by default: plain-RoPE (4K) checkpoints get ``auto`` (the family's adaptive NTK)
up to ``AUTO_UP_TO`` times their trained length (measured: past 2x, ``auto``'s last-slice
perplexity is 20-82% above the best method's on the tiny model) and grouped attention
(``selfextend``) beyond, in transformers; runtimes that cannot run grouped attention (vLLM, webui)
or run it slowly (llama.cpp: a prompt is decoded token by token) get dynamic YaRN there, the best
method without an attention change (YaRN at the target factor, and it leaves short prompts
untouched); see docs/long-context.md. PI-trained (16K) checkpoints get PI + ``auto``; YaRN-trained
(64K) checkpoints get their own ``yarn`` (grouped attention on top of them is unmeasured: ask for
it by name). A method that does not fit the checkpoint (e.g. ``dynamic``
on a PI model, which would drop the PI it was trained with) is refused; a target past what the
method carries the checkpoint is allowed with a ``RopeReachWarning`` that gives the reason.
"""

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zhllama.core.rope_scaling.checkpoint import describe
from zhllama.core.rope_scaling.method import Checkpoint, RopeMethod, RuntimeSettings, Shape, Target
from zhllama.core.rope_scaling.registry import get_method, methods
from zhllama.errors import RopeScalingError

RUNTIMES = ("transformers", "vllm", "llamacpp", "webui")
_RUNTIME_ALIASES = {"llama_cpp": "llamacpp", "llama.cpp": "llamacpp"}


class RopeReachWarning(UserWarning):
    """The target length is beyond what the chosen method is known to carry the checkpoint."""


@dataclass(frozen=True)
class RopePlan:
    """A method with its parameters for one checkpoint and target length; renders each runtime."""

    checkpoint: Checkpoint
    target_context: int
    method: str
    params: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())

    @property
    def shape(self) -> Shape:
        return self.checkpoint.shape

    @property
    def _method(self) -> RopeMethod:
        return get_method(self.method)

    @property
    def _target(self) -> Target:
        return Target(self.checkpoint, self.target_context)

    def _unsupported(self, runtime: str) -> RopeScalingError:
        return RopeScalingError(
            cannot_run(self._method, runtime) or f"{self.method!r} cannot run in {runtime}"
        )

    def attention(self) -> dict[str, Any] | None:
        """The attention change the method needs on top of its frequencies (``selfextend``: its
        ``group`` and ``window``, for ``zhllama.patching.set_grouped_attention``), else None."""
        if self._method.attention is None:
            return None
        return self._method.attention(self.params)

    def transformers(self) -> dict[str, Any]:
        """The ``rope_parameters`` dict for transformers 5.

        Types named ``zhllama_dynamic_*`` need ``register_transformers_rope_types()`` first
        (``zhllama.load`` does it).
        """
        if self._method.transformers is None:
            raise self._unsupported("transformers")
        return self._method.transformers(self.params, self.shape)

    def transformers_config(self) -> dict[str, Any]:
        """The config attributes to set before the model is built.

        Length-dependent methods keep ``max_position_embeddings`` at the trained length: that is
        the threshold transformers (and the formulas) measure the current length against.
        """
        trained = self.checkpoint.trained_length
        length = trained if self._method.depends_on_seq_len else max(trained, self.target_context)
        return {"rope_parameters": self.transformers(), "max_position_embeddings": length}

    def vllm(self) -> dict[str, Any]:
        """``LLM(...)`` keyword arguments (``hf_overrides``, ``max_model_len``), CLI flags and notes."""
        if self._method.vllm is None:
            raise self._unsupported("vllm")
        return _with_notes(self._method.vllm(self.params, self.shape, self._target))

    def llama_cpp(self) -> dict[str, Any]:
        """llama-cpp-python ``Llama(...)`` keyword arguments, the llama.cpp CLI flags, and notes."""
        if self._method.llama_cpp is None:
            raise self._unsupported("llamacpp")
        return _with_notes(self._method.llama_cpp(self.params, self.shape, self._target))

    def webui(self) -> dict[str, Any]:
        """What text-generation-webui still honours: the config.json it loads, and the context length.

        webui removed its own rope knobs (alpha_value, rope_freq_base, compress_pos_emb) in 2026,
        so scaling reaches it only through the model's config: write ``config_json`` into the
        model's config.json (or let zhllama's webui extension apply it) before loading.
        """
        if cannot_run(self._method, "webui"):
            raise self._unsupported("webui")
        notes = [
            "text-generation-webui no longer has alpha_value / rope_freq_base / compress_pos_emb: "
            "merge config_json into the model folder's config.json before loading it with the "
            "Transformers loader, and set truncation_length in the Parameters tab",
            "for GGUF models under the llama.cpp loader use the llamacpp settings instead",
        ]
        rope_type = self.transformers()["rope_type"]
        if rope_type.startswith("zhllama_"):
            notes.append(
                f"rope type {rope_type!r} exists only once zhllama registers it: enable zhllama's webui "
                "extension (it calls register_transformers_rope_types() before the model loads)"
            )
        return {
            "settings": {"config_json": self.transformers_config(), "truncation_length": self.target_context},
            "notes": notes,
        }

    def runtime(self, name: str) -> dict[str, Any]:
        """One runtime's settings by name: transformers, vllm, llamacpp or webui.

        A runtime that cannot run the method gets no settings and a note saying why.
        """
        name = check_runtime(name)
        reason = cannot_run(self._method, name)
        if reason:
            return {"settings": {}, "notes": [reason]}
        if name == "transformers":
            settings = self.transformers_config()
            if self.attention() is not None:
                settings = settings | {"grouped_attention": self.attention()}
            return {"settings": settings, "notes": _transformers_notes(self)}
        if name == "vllm":
            return self.vllm()
        if name == "llamacpp":
            return self.llama_cpp()
        return self.webui()

    def as_dict(self, runtimes: tuple[str, ...] = RUNTIMES) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint.as_dict(),
            "target_context": self.target_context,
            "method": self.method,
            "params": self.params,
            "warnings": list(self.warnings),
            "runtimes": {name: self.runtime(name) for name in runtimes},
        }


def _with_notes(rendered: RuntimeSettings) -> dict[str, Any]:
    return {"settings": rendered.settings, "notes": list(rendered.notes)}


def _transformers_notes(plan: RopePlan) -> list[str]:
    notes = []
    if plan.transformers()["rope_type"].startswith("zhllama_"):
        notes.append(
            "call zhllama.core.rope_scaling.register_transformers_rope_types() before building the model "
            "(zhllama.load(path, context=N) does)"
        )
    attention = plan.attention()
    if attention is not None:
        arguments = ", ".join(f"{key}={value!r}" for key, value in attention.items())
        notes.append(
            f"{plan.method} changes the attention, not only the frequencies: load with "
            f"zhllama.load(path, context={plan.target_context}, rope_method={plan.method!r}, "
            f"rope_params={attention!r}), or set rope_parameters and max_position_embeddings on the "
            f"config, then zhllama.patching.set_grouped_attention(model, {arguments})"
        )
    return notes


def check_runtime(name: str) -> str:
    """``name`` as one of ``RUNTIMES`` (``llama_cpp`` and ``llama.cpp`` mean ``llamacpp``)."""
    name = _RUNTIME_ALIASES.get(name, name)
    if name not in RUNTIMES:
        raise RopeScalingError(f"unknown runtime {name!r}: use one of {', '.join(RUNTIMES)}")
    return name


def cannot_run(method: RopeMethod, runtime: str) -> str | None:
    """Why ``method`` cannot run in ``runtime`` (one of ``RUNTIMES``), or None when it can."""
    renderer = {
        "transformers": method.transformers,
        "vllm": method.vllm,
        "llamacpp": method.llama_cpp,
        "webui": method.transformers if method.attention is None else None,
    }[check_runtime(runtime)]
    if renderer is not None:
        return None
    why = method.extra.get("unsupported", {}).get(runtime, "it has no settings for it")
    return f"rope method {method.name!r} cannot run in {runtime}: {why}"


AUTO_UP_TO = 2
"""Plain checkpoints: ``auto`` up to this multiple of the trained length, beyond it ``PLAIN_BEYOND``."""
PLAIN_BEYOND = ("selfextend", "dynamic_yarn")
"""Plain checkpoints past ``AUTO_UP_TO``: the measured best first (docs/long-context.md), then the
best that needs no attention change, for runtimes that cannot run the first."""
GROUPED_RUNTIMES = ("transformers",)
"""Where ``plan`` picks grouped attention unasked: llama.cpp runs it too, but decodes the prompt one
token at a time (measured: docs/long-context.md), so there it is chosen only by name."""


def default_method(checkpoint: Checkpoint, target_context: int, runtime: str | None = None) -> str:
    """The method ``plan`` picks when none is asked for (see the module docstring): the best one
    measured for the checkpoint's kind and the target that ``runtime`` (None: transformers) runs
    well."""
    if checkpoint.kind == "none" and target_context > AUTO_UP_TO * checkpoint.trained_length:
        best, fallback = PLAIN_BEYOND
        grouped = check_runtime(runtime or "transformers") in GROUPED_RUNTIMES
        return best if grouped and best in methods() else fallback
    return checkpoint.recommended_method


def plan(
    config: Mapping[str, Any],
    target_context: int,
    method: str | None = None,
    params: Mapping[str, Any] | None = None,
    runtime: str | None = None,
) -> RopePlan:
    """Pick and parametrise a method for ``config`` (a config.json dict) at ``target_context`` tokens.

    Within the trained length and with no ``method`` asked, the plan is the checkpoint's own
    scaling (plain RoPE, its PI factor or its YaRN), which every runtime has built in. ``params``
    override what the method would choose (e.g. ``{"group": 32}`` for ``selfextend``); ``runtime``
    (one of ``RUNTIMES``) restricts the default to the methods that runtime can run and refuses an
    asked-for method it cannot. Raises ``RopeScalingError`` for an unknown method or parameter, a
    method unfit for the checkpoint or the runtime, parameters that cannot serve the target, or a
    method asked for a target below the trained length; warns (``RopeReachWarning``) past the
    method's reach.
    """
    checkpoint = describe(config)
    if isinstance(target_context, bool) or not isinstance(target_context, int) or target_context < 1:
        raise RopeScalingError(f"target context must be a positive number of tokens, got {target_context!r}")
    runtime = None if runtime is None else check_runtime(runtime)
    requested = dict(params or {})
    trained = checkpoint.trained_length
    if target_context <= trained and method is None and not requested:
        own, own_params = own_scaling(checkpoint)
        return RopePlan(checkpoint, target_context, own.name, own.resolve(own_params))
    if target_context < trained:
        raise RopeScalingError(
            f"target context {target_context} is below the checkpoint's trained length {trained}: no scaling "
            "is needed (and scaling would hurt short prompts); "
            f"load without a context or ask for >= {trained}"
        )
    chosen = get_method(method or default_method(checkpoint, target_context, runtime))
    if checkpoint.kind not in chosen.checkpoints:
        fitting = sorted(name for name, m in methods().items() if checkpoint.kind in m.checkpoints)
        raise RopeScalingError(
            f"rope method {chosen.name!r} does not fit a checkpoint trained with {_kind_text(checkpoint)}: "
            f"use one of {', '.join(fitting)} (default {checkpoint.recommended_method!r})"
        )
    reason = None if runtime is None else cannot_run(chosen, runtime)
    if reason:
        runnable = sorted(
            name
            for name, m in methods().items()
            if checkpoint.kind in m.checkpoints and not cannot_run(m, runtime)
        )
        raise RopeScalingError(f"{reason}; use one of {', '.join(runnable)}")
    unknown = sorted(set(requested) - set(chosen.params))
    if unknown and method is None:
        raise RopeScalingError(
            f"{', '.join(f'`{key}`' for key in unknown)} is not a parameter of {chosen.name!r}, the method "
            f"chosen for {target_context} tokens: ask for the method that takes it (e.g. `rope_method` "
            "selfextend for `group` and `window`)"
        )
    target = Target(checkpoint, target_context, requested)
    params = chosen.resolve({**(chosen.choose(target) if chosen.choose else {}), **requested})
    if chosen.check is not None:
        chosen.check(target, params)
    notes: list[str] = []
    if chosen.reach is not None:
        reach, reason = chosen.reach(target, params)
        if target_context > reach:
            message = (
                f"{target_context} tokens is beyond what {chosen.name!r} is known to reach "
                "for this checkpoint "
                f"({reach} tokens): {reason}. Expect quality to drop."
            )
            warnings.warn(message, RopeReachWarning, stacklevel=2)
            notes.append(message)
    return RopePlan(checkpoint, target_context, chosen.name, params, tuple(notes))


def own_scaling(checkpoint: Checkpoint) -> tuple[RopeMethod, dict[str, Any]]:
    """The method and parameters that are exactly how ``checkpoint`` was trained."""
    if checkpoint.kind == "yarn":
        original = checkpoint.original_length
        return get_method("yarn"), {"factor": checkpoint.factor, "original_max_position_embeddings": original}
    return get_method("linear"), {"factor": checkpoint.factor}


def _kind_text(checkpoint: Checkpoint) -> str:
    kind = checkpoint.kind
    if kind == "none":
        return "plain RoPE"
    if kind == "linear":
        return f"position interpolation (factor {checkpoint.factor:g})"
    return f"YaRN (factor {checkpoint.factor:g})"


def format_plan(rope_plan: RopePlan, runtimes: tuple[str, ...] = RUNTIMES) -> str:
    """A human-readable plan: the checkpoint, the method, then each runtime's settings and notes."""
    ckpt = rope_plan.checkpoint
    params = ", ".join(
        f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in rope_plan.params.items()
    )
    lines = [
        f"checkpoint: {_kind_text(ckpt)}, trained length {ckpt.trained_length}, "
        f"original length {ckpt.original_length}, base {ckpt.rope_theta:g}, "
        f"head dim {ckpt.head_dim}",
        f"target: {rope_plan.target_context} tokens -> method {rope_plan.method} ({params})",
    ]
    lines += [f"warning: {text}" for text in rope_plan.warnings]
    for name in runtimes:
        rendered = rope_plan.runtime(name)
        lines.append("")
        lines.append(f"[{name}]")
        settings = dict(rendered["settings"])
        cli = settings.pop("cli", None)
        for key, value in settings.items():
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False, sort_keys=True)}")
        if cli:
            lines.append("  cli: " + " ".join(_quote(part) for part in cli))
        lines += [f"  note: {text}" for text in rendered["notes"]]
    return "\n".join(lines)


def _quote(part: str) -> str:
    return f"'{part}'" if any(ch in part for ch in ' {}"') else part

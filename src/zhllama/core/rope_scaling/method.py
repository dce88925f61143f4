"""What a RoPE scaling method is: a pure function ``(params, shape) -> (inv_freq, attention_scaling)``
plus the metadata a planner needs (its parameters and defaults, whether it depends on the current
sequence length, which checkpoints it suits, how far it reaches) and, optionally, how to express it
in each runtime.

Every method module builds one ``RopeMethod``; ``registry`` holds the built-in ones by name and
merges in those plugins register through ``register_rope_methods``. Nothing here imports torch:
the compute functions import it when called.
"""

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

REQUIRED = object()
"""Marks a parameter without a default: callers of ``inv_freq`` must give it."""

CHECKPOINT_KINDS = ("none", "linear", "yarn")
"""How a checkpoint was trained: plain RoPE, position interpolation, YaRN."""


@dataclass(frozen=True)
class Shape:
    """The model facts a method needs besides its own parameters."""

    head_dim: int
    base: float
    max_position_embeddings: int


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint's ``config.json`` says about its RoPE training (``describe`` reads it).

    ``kind`` is how it was trained: ``none`` (plain RoPE), ``linear`` (position interpolation,
    the 16K models) or ``yarn`` (the 64K models), with ``factor`` (1 for plain RoPE).
    ``trained_length`` is its ``max_position_embeddings``; ``original_length`` the length before
    the extension (trained / PI factor, or YaRN's ``original_max_position_embeddings``).
    ``recommended_method`` is the scaling that suits it and ``usable_length`` how far that
    method carries it.
    """

    kind: str
    factor: float
    trained_length: int
    original_length: int
    rope_theta: float
    head_dim: int
    recommended_method: str
    usable_length: int

    @property
    def shape(self) -> Shape:
        return Shape(self.head_dim, self.rope_theta, self.trained_length)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """What a plan is for: the checkpoint (``describe``), the wanted context, and the parameters the
    caller asked for (``choose`` fits the others to them)."""

    checkpoint: Checkpoint
    context: int
    requested: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuntimeSettings:
    """One runtime's rendering of a plan: the settings and the caveats a user must read."""

    settings: dict[str, Any]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RopeMethod:
    """A RoPE scaling method.

    ``compute(params, shape, seq_len)`` returns ``(inv_freq, attention_scaling)`` with
    ``inv_freq`` a float32 tensor of ``head_dim // 2`` values; ``seq_len`` is the current length
    (None means ``shape.max_position_embeddings``). ``params`` lists every parameter with its
    default (``REQUIRED`` when there is none). ``choose`` turns a ``Target`` into parameters,
    ``reach`` says how far those parameters carry the checkpoint (and why), ``check`` refuses
    parameters that cannot serve the target (a ``RopeScalingError``), and the renderers express the
    parameters in transformers (a ``rope_parameters`` dict), vLLM and llama.cpp. ``attention``
    (None for a method that is only frequencies) gives the keyword arguments of the attention change
    the method needs on top (``zhllama.patching.set_grouped_attention``); a runtime that cannot run
    the method is left without a renderer and may say why in ``extra["unsupported"][runtime]``.
    """

    name: str
    summary: str
    compute: Callable[[Mapping[str, Any], Shape, int | None], tuple[Any, float]]
    params: Mapping[str, Any]
    depends_on_seq_len: bool
    checkpoints: frozenset[str] = frozenset(CHECKPOINT_KINDS)
    choose: Callable[[Target], dict[str, Any]] | None = None
    reach: Callable[[Target, Mapping[str, Any]], tuple[int, str]] | None = None
    check: Callable[[Target, Mapping[str, Any]], None] | None = None
    transformers: Callable[[Mapping[str, Any], Shape], dict[str, Any]] | None = None
    vllm: Callable[[Mapping[str, Any], Shape, Target], RuntimeSettings] | None = None
    llama_cpp: Callable[[Mapping[str, Any], Shape, Target], RuntimeSettings] | None = None
    attention: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def resolve(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """``params`` completed with the defaults; unknown or missing parameters are errors."""
        from zhllama.errors import RopeScalingError

        given = dict(params or {})
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            raise RopeScalingError(
                f"rope method {self.name!r} has no parameter(s) {', '.join(unknown)}: "
                f"it takes {', '.join(self.params) or 'none'}"
            )
        resolved = {key: given.get(key, default) for key, default in self.params.items()}
        missing = sorted(key for key, value in resolved.items() if value is REQUIRED)
        if missing:
            raise RopeScalingError(
                f"rope method {self.name!r} needs {', '.join(missing)}: pass them in params, e.g. "
                f"{{{', '.join(repr(k) + ': ...' for k in missing)}}}"
            )
        return resolved

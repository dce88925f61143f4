"""Per-instance, reversible kernel patching of transformers' Llama modules.

What changes in a patched model (numerically the same, see tests/test_patching.py):

- every ``LlamaRMSNorm`` runs ``rms_norm``;
- each decoder layer fuses its post-attention residual add with ``post_attention_layernorm``
  (``add_rms_norm``), writing the sum into the attention output's buffer (a forward hook that
  keeps the attention output sees the sum);
- the rotary embedding no longer builds cos/sin tables: after transformers' own dynamic update
  (so ``dynamic``, ``auto`` and ``dynamic_yarn`` bases follow the sequence as in eager) it hands
  the layers ``RopeAngles(positions, inv_freq, scaling)`` and each attention rotates q and k in
  one ``rope`` call;
- each SiLU ``LlamaMLP`` runs ``swiglu`` into its gate projection's buffer.

A module's original forward is its class's, so patching sets an instance ``forward`` and
reverting deletes it (or restores an instance forward that was there before, e.g. a hook's).
When autograd needs gradients the references run instead (the fused kernels are forward-only).
"""

import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from zhllama.core.kernels import dispatch, reference
from zhllama.core.kernels.errors import KernelError

ATTRIBUTE = "_zhllama_kernel_patch"
_MISSING = object()


class RopeAngles(NamedTuple):
    """What a patched rotary embedding passes to the layers instead of ``(cos, sin)``."""

    positions: torch.Tensor
    inv_freq: torch.Tensor
    scaling: float


@dataclass
class KernelPatch:
    """What ``apply`` did to one model: the backend of each op and how to undo it."""

    device: str
    dtype: str
    backends: dict[str, str]
    modules: int = 0
    _saved: list[tuple[torch.nn.Module, Any]] = field(default_factory=list, repr=False)


def _llama_classes() -> dict[str, type]:
    from transformers.models.llama import modeling_llama as ml

    return {
        "norm": ml.LlamaRMSNorm,
        "rotary": ml.LlamaRotaryEmbedding,
        "attention": ml.LlamaAttention,
        "mlp": ml.LlamaMLP,
        "layer": ml.LlamaDecoderLayer,
    }


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _ops(device_type: str, dtype: torch.dtype, backend: str | None, kernel_mode: str) -> dict[str, Any]:
    chosen = {
        op: backend or dispatch.choose(op, device_type, dtype, kernel_mode=kernel_mode)
        for op in ("rms_norm", "add_rms_norm", "rope", "swiglu")
    }
    return {op: (name, dispatch.kernel(op, device_type, dtype, backend=name)) for op, name in chosen.items()}


def _norm_forward(rms_norm: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def forward(self: Any, hidden_states: torch.Tensor) -> torch.Tensor:
        if _needs_grad(hidden_states, self.weight):
            return reference.rms_norm(hidden_states, self.weight, self.variance_epsilon)
        return rms_norm(hidden_states, self.weight, self.variance_epsilon)

    return forward


def _rotary_forward() -> Callable[..., RopeAngles]:
    from transformers.modeling_rope_utils import dynamic_rope_update

    @dynamic_rope_update
    def forward(self: Any, x: torch.Tensor, position_ids: torch.Tensor) -> RopeAngles:
        return RopeAngles(position_ids, self.inv_freq, float(self.attention_scaling))

    return forward


def _attention_forward(rope: Callable[..., Any]) -> Callable[..., Any]:
    from transformers.models.llama.modeling_llama import ALL_ATTENTION_FUNCTIONS, eager_attention_forward

    def forward(
        self: Any,
        hidden_states: torch.Tensor,
        position_embeddings: Any = None,
        attention_mask: torch.Tensor | None = None,
        cache: Any = None,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, Any]:
        cache = kwargs.pop("past_key_values", cache)
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        query = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        key = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        value = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)

        fn = reference.rope if _needs_grad(query, key) else rope
        if isinstance(position_embeddings, RopeAngles):
            positions, inv_freq, scaling = position_embeddings
            query, key = fn(query, key, positions=positions, inv_freq=inv_freq, scaling=scaling)
        else:
            cos, sin = position_embeddings
            query, key = fn(query, key, cos=cos, sin=sin)

        if cache is not None:
            key, value = cache.update(key, value, self.layer_idx, kwargs=kwargs)
        attention: Callable[..., Any] = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        output, weights = attention(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=0.0 if not self.training else self.attention_dropout,
            scaling=self.scaling,
            **kwargs,
        )
        output = output.reshape(*input_shape, -1).contiguous()
        return self.o_proj(output), weights

    return forward


def _mlp_forward(swiglu: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def forward(self: Any, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_proj(x), self.up_proj(x)
        if _needs_grad(gate, up):
            return self.down_proj(reference.swiglu(gate, up))
        return self.down_proj(swiglu(gate, up, out=gate))

    return forward


def _layer_forward(add_rms_norm: Callable[..., Any]) -> Callable[..., torch.Tensor]:
    def forward(
        self: Any,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: Any = None,
        use_cache: bool | None = False,
        position_embeddings: Any = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        cache = kwargs.pop("past_key_values", cache)
        residual = hidden_states
        hidden_states, _ = self.self_attn(
            hidden_states=self.input_layernorm(hidden_states),
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
            position_embeddings=position_embeddings,
            **kwargs,
        )
        norm = self.post_attention_layernorm
        if _needs_grad(hidden_states, norm.weight):
            hidden_states, residual = reference.add_rms_norm(
                hidden_states, residual, norm.weight, norm.variance_epsilon
            )
        else:  # the attention output is this forward's own: the sum may go into its buffer
            hidden_states, residual = add_rms_norm(
                hidden_states, residual, norm.weight, norm.variance_epsilon, in_place=True
            )
        return residual + self.mlp(hidden_states)

    return forward


def _set_forward(patch: KernelPatch, module: torch.nn.Module, forward: Callable[..., Any]) -> None:
    patch._saved.append((module, module.__dict__.get("forward", _MISSING)))
    module.forward = types.MethodType(forward, module)
    patch.modules += 1


def is_patched(model: torch.nn.Module) -> bool:
    """Whether ``apply`` patched ``model`` (and ``revert`` has not undone it)."""
    return getattr(model, ATTRIBUTE, None) is not None


def apply(
    model: torch.nn.Module, *, backend: str | None = None, kernel_mode: str | None = None
) -> KernelPatch | None:
    """Patch a transformers Llama model in place with the fused kernels; return what was done.

    The backends are chosen for the device and dtype of the model's parameters
    (``zhllama.core.kernels.dispatch``; ``kernel_mode`` overrides ``ZHLLAMA_KERNELS``, ``backend``
    forces one backend for every op). With ``ZHLLAMA_KERNELS=off`` nothing changes and None is
    returned. Applying twice re-patches (e.g. after ``model.to(...)``). Undo with ``revert``.
    """
    chosen_mode = dispatch.mode(kernel_mode)
    if chosen_mode == dispatch.OFF and backend is None:
        return None
    classes = _llama_classes()
    found = {kind: [m for m in model.modules() if isinstance(m, cls)] for kind, cls in classes.items()}
    if not found["layer"] or not found["rotary"]:
        raise KernelError(
            f"{type(model).__name__} is not a transformers Llama model (no LlamaDecoderLayer or "
            "LlamaRotaryEmbedding found): zhllama's kernels patch LlamaForCausalLM / LlamaModel only"
        )
    if is_patched(model):
        revert(model)
    parameter = next(model.parameters())
    ops = _ops(parameter.device.type, parameter.dtype, backend, chosen_mode)
    patch = KernelPatch(
        device=parameter.device.type,
        dtype=str(parameter.dtype).removeprefix("torch."),
        backends={op: name for op, (name, _) in ops.items()},
    )
    for module in found["norm"]:
        _set_forward(patch, module, _norm_forward(ops["rms_norm"][1]))
    for module in found["rotary"]:
        _set_forward(patch, module, _rotary_forward())
    for module in found["attention"]:
        _set_forward(patch, module, _attention_forward(ops["rope"][1]))
    for module in found["mlp"]:
        if module.config.hidden_act in ("silu", "swish"):
            _set_forward(patch, module, _mlp_forward(ops["swiglu"][1]))
    for module in found["layer"]:
        _set_forward(patch, module, _layer_forward(ops["add_rms_norm"][1]))
    setattr(model, ATTRIBUTE, patch)
    return patch


def revert(model: torch.nn.Module) -> bool:
    """Undo ``apply`` on ``model``; return whether there was anything to undo."""
    patch = getattr(model, ATTRIBUTE, None)
    if patch is None:
        return False
    for module, previous in reversed(patch._saved):
        if previous is _MISSING:
            module.__dict__.pop("forward", None)
        else:
            module.forward = previous
    delattr(model, ATTRIBUTE)
    return True

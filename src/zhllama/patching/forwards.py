"""The forwards zhllama puts on transformers' Llama modules, one per module kind.

- ``norm``: ``rms_norm``;
- ``rotary``: after transformers' own dynamic update (so ``dynamic``, ``auto`` and
  ``dynamic_yarn`` bases follow the sequence as in eager), it hands the layers
  ``RopeAngles(positions, inv_freq, scaling)`` instead of building cos/sin tables;
- ``attention``: one forward with three switches: which ``rope`` rotates q and k (a fused kernel or
  the reference), whether the KV cache holds keys *before* RoPE (then every cached key is
  rotated with the current frequencies at every step, see ``zhllama.patching``), and grouped
  attention (``selfextend``: the cache holds keys before RoPE too, and ``grouped_attention``
  rotates them at their exact and grouped positions);
- ``mlp``: ``swiglu`` into the gate projection's buffer;
- ``layer``: the post-attention residual add fused with ``post_attention_layernorm``
  (``add_rms_norm``), the sum written into the attention output's buffer.

Each factory returns a plain function ``forward(self, ...)`` to bind to one module instance.
When autograd needs gradients the references run instead (the fused kernels are forward-only).
"""

from collections.abc import Callable
from typing import Any, NamedTuple

import torch

from zhllama.core.kernels import reference
from zhllama.errors import RopeScalingError


class RopeAngles(NamedTuple):
    """What a patched rotary embedding passes to the layers instead of ``(cos, sin)``."""

    positions: torch.Tensor
    inv_freq: torch.Tensor
    scaling: float


def needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def norm_forward(rms_norm: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def forward(self: Any, hidden_states: torch.Tensor) -> torch.Tensor:
        if needs_grad(hidden_states, self.weight):
            return reference.rms_norm(hidden_states, self.weight, self.variance_epsilon)
        return rms_norm(hidden_states, self.weight, self.variance_epsilon)

    return forward


def rotary_forward() -> Callable[..., RopeAngles]:
    from transformers.modeling_rope_utils import dynamic_rope_update

    @dynamic_rope_update
    def forward(self: Any, x: torch.Tensor, position_ids: torch.Tensor) -> RopeAngles:
        return RopeAngles(position_ids, self.inv_freq, float(self.attention_scaling))

    return forward


def _rotate_given(
    rope: Callable[..., Any], query: Any, key: Any, position_embeddings: Any
) -> tuple[Any, Any]:
    """q and k rotated by what the model's rotary embedding produced this step."""
    fn = reference.rope if needs_grad(query, key) else rope
    if isinstance(position_embeddings, RopeAngles):
        positions, inv_freq, scaling = position_embeddings
        return fn(query, key, positions=positions, inv_freq=inv_freq, scaling=scaling)
    cos, sin = position_embeddings
    return fn(query, key, cos=cos, sin=sin)


def _append_unrotated(self: Any, key: Any, value: Any, cache: Any, kwargs: dict) -> tuple[Any, Any]:
    """Append the un-rotated keys (and values) to the cache; return all of them."""
    if cache is None:
        return key, value
    new = key.shape[-2]
    past = cache.get_seq_length(self.layer_idx)
    key, value = cache.update(key, value, self.layer_idx, kwargs=kwargs)
    if key.shape[-2] != past + new:
        raise RopeScalingError(
            f"a KV cache of keys before RoPE needs a cache that grows by appending (DynamicCache); "
            f"{type(cache).__name__} returned {key.shape[-2]} keys after {past} + {new}: "
            "generate with the default cache_implementation"
        )
    return key, value


def _rotate_all(rotary: Any, query: Any, key: Any) -> tuple[Any, Any]:
    """Rotate every key (positions ``0..total-1``) and the new queries with the rotary embedding's
    *current* frequencies (those of this step's total length)."""
    new, total = query.shape[-2], key.shape[-2]
    positions = torch.arange(total, device=query.device)[None]
    cos, sin = reference.rope_tables(positions, rotary.inv_freq, float(rotary.attention_scaling), query.dtype)
    query = reference.rotate(query, cos[:, total - new :], sin[:, total - new :])
    return query, reference.rotate(key, cos, sin)


def attention_forward(
    rope: Callable[..., Any], kv_before_rope: bool, rotary: Any, grouped: tuple[int, int] | None = None
) -> Callable[..., Any]:
    """``LlamaAttention.forward`` rotating with ``rope``; with ``kv_before_rope`` the cache holds
    un-rotated keys and all of them are rotated each step (``rotary`` gives the frequencies); with
    ``grouped`` (``(group, window)``) the cache holds un-rotated keys and ``grouped_attention``
    computes the output."""
    from transformers.models.llama.modeling_llama import ALL_ATTENTION_FUNCTIONS, eager_attention_forward

    from zhllama.patching.grouped_attention import grouped_attention

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

        if grouped is not None:
            if self.training and self.attention_dropout > 0:
                raise RopeScalingError(
                    "grouped attention (selfextend) has no attention dropout: it is for inference; "
                    "call model.eval() or switch it off (set_grouped_attention(model, None))"
                )
            key, value = _append_unrotated(self, key, value, cache, kwargs)
            output = grouped_attention(
                query,
                key,
                value,
                group=grouped[0],
                window=grouped[1],
                inv_freq=rotary.inv_freq,
                rope_scaling=float(rotary.attention_scaling),
                scaling=self.scaling,
                position_ids=kwargs.get("position_ids"),
                attention_mask=attention_mask,
            )
            return self.o_proj(output.reshape(*input_shape, -1)), None
        if kv_before_rope:
            key, value = _append_unrotated(self, key, value, cache, kwargs)
            query, key = _rotate_all(rotary, query, key)
        else:
            query, key = _rotate_given(rope, query, key, position_embeddings)
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


def mlp_forward(swiglu: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    def forward(self: Any, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_proj(x), self.up_proj(x)
        if needs_grad(gate, up):
            return self.down_proj(reference.swiglu(gate, up))
        return self.down_proj(swiglu(gate, up, out=gate))

    return forward


def layer_forward(add_rms_norm: Callable[..., Any]) -> Callable[..., torch.Tensor]:
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
        if needs_grad(hidden_states, norm.weight):
            hidden_states, residual = reference.add_rms_norm(
                hidden_states, residual, norm.weight, norm.variance_epsilon
            )
        else:  # the attention output is this forward's own: the sum may go into its buffer
            hidden_states, residual = add_rms_norm(
                hidden_states, residual, norm.weight, norm.variance_epsilon, in_place=True
            )
        return residual + self.mlp(hidden_states)

    return forward

"""The in-process backend: a transformers model with zhllama's exact SentencePiece tokenizer.

The prompt goes in as ids from ``encode_messages``; text comes out through an incremental
decoder that never emits half a character, and stop sequences end ``generate`` through a
stopping criterion, so nothing past the stop is computed. A JSON schema constrains decoding
through xgrammar (``constrained_decoding``).
"""

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from zhllama.backends.base import BackendBase, GenerationRequest
from zhllama.backends.protocol import BackendError, FinishReason
from zhllama.backends.reply import ReplyBuilder
from zhllama.backends.speculation import LOOKUP_NGRAM, check_same_vocabulary, check_speculation
from zhllama.core.sampling import UPSTREAM, Sampling
from zhllama.core.templates import DEFAULT_TEMPLATE


class TransformersBackend(BackendBase):
    """Generate with a loaded transformers model (see ``zhllama.load``).

    ``context_window`` defaults to the config's ``max_position_embeddings``; pass the target length
    when the model was loaded with a length-dependent RoPE method (``load(path, context=N)`` keeps
    ``max_position_embeddings`` at the trained length for those).

    Speculative decoding (``zhllama.backends.speculation``) is transformers' assisted generation:
    ``draft_model`` (a loaded model with the same vocabulary) or ``lookup`` (prompt lookup, that many
    tokens proposed per step). CFG sampling (``complete(guidance_scale=..., negative_prompt=...)``)
    is transformers' ``UnbatchedClassifierFreeGuidanceLogitsProcessor``, as upstream's scripts use it.
    A reply constrained to a JSON schema is generated without speculation: xgrammar's processor
    advances its grammar state on every position it sees, and assisted generation shows it draft
    tokens that may be rejected (the reply is the same; only the speed-up is lost).
    """

    name = "transformers"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        context_window: int | None = None,
        draft_model: Any = None,
        lookup: int | None = None,
    ) -> None:
        check_speculation(draft_model, lookup)
        if draft_model is not None and draft_model.config.vocab_size != model.config.vocab_size:
            raise BackendError(
                f"the `draft` model has a vocabulary of {draft_model.config.vocab_size} tokens, the model "
                f"{model.config.vocab_size}: a draft must use the model's tokenizer"
            )
        self.model = model
        self.tokenizer = tokenizer
        self.draft_model = draft_model
        self.lookup = lookup
        self._context_window = context_window or int(model.config.max_position_embeddings)
        self._lock = threading.Lock()

    @property
    def speculative(self) -> bool:
        return self.draft_model is not None or self.lookup is not None

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        dtype: str = "float32",
        device: str = "cpu",
        context: int | None = None,
        rope_method: str | None = None,
        draft: str | os.PathLike | None = None,
        lookup: int | None = None,
        rope_params: dict[str, Any] | None = None,
    ) -> "TransformersBackend":
        """Load a local model folder with ``zhllama.load`` (same arguments) and wrap it; ``draft``
        is a draft model's folder (loaded the same way), ``lookup`` switches on prompt lookup."""
        from zhllama.checkpoints.model_loader import load

        check_speculation(draft, lookup)
        rope = {"context": context, "rope_method": rope_method, "rope_params": rope_params}
        model, tokenizer = load(path, dtype=dtype, device=device, **rope)
        draft_model = None
        if draft is not None or lookup is not None:
            from zhllama.patching import grouped_attention_settings

            if grouped_attention_settings(model) is not None:
                raise BackendError(
                    "speculative decoding (`draft`, `lookup`) and grouped attention (rope method "
                    "selfextend, which the plan picks beyond 2x the trained length) do not run "
                    "together: drop `draft`/`lookup`, or choose another `rope_method`"
                )
        if draft is not None:
            draft_model, draft_tokenizer = load(draft, dtype=dtype, device=device)
            check_same_vocabulary(_pieces(tokenizer), _pieces(draft_tokenizer), repr(str(draft)))
        return cls(model, tokenizer, context_window=context, draft_model=draft_model, lookup=lookup)

    @property
    def model_name(self) -> str:
        return str(getattr(self.model, "name_or_path", "") or self.model.config.name_or_path)

    @property
    def context_window(self) -> int:
        return self._context_window

    def _generate(self, request: GenerationRequest, reply: ReplyBuilder) -> tuple[FinishReason, int, int]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class StopWhenReplyStopped(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],), reply.stopped, dtype=torch.bool, device=input_ids.device
                )

        sampling = request.sampling
        settings: dict[str, Any] = {
            "max_new_tokens": request.max_tokens,
            "repetition_penalty": sampling.repetition_penalty,
        }
        if not request.greedy:
            settings.update(temperature=sampling.temperature, top_k=sampling.top_k, top_p=sampling.top_p)
        speculate = request.json_schema is None
        if request.json_schema is not None:
            from zhllama.backends.constrained_decoding import xgrammar_logits_processor

            vocab_size = int(self.model.config.vocab_size)
            settings["logits_processor"] = [
                xgrammar_logits_processor(self.tokenizer, vocab_size, request.json_schema)
            ]
        if speculate and self.draft_model is not None:
            settings["assistant_model"] = self.draft_model
        if speculate and self.lookup is not None:
            settings.update(prompt_lookup_num_tokens=self.lookup, max_matching_ngram_size=LOOKUP_NGRAM)
        if request.guidance_scale != 1:
            settings["guidance_scale"] = request.guidance_scale
            if request.negative_ids is not None:
                negative = torch.tensor([request.negative_ids], device=self.model.device)
                settings.update(
                    negative_prompt_ids=negative, negative_prompt_attention_mask=torch.ones_like(negative)
                )
        input_ids = torch.tensor([request.ids], device=self.model.device)
        with self._lock, torch.inference_mode(), _quiet_assisted_generation("assistant_model" in settings):
            if request.seed is not None:
                torch.manual_seed(request.seed)
            output = self.model.generate(
                input_ids,
                attention_mask=torch.ones_like(input_ids),
                do_sample=not request.greedy,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
                streamer=_IncrementalDecoder(self.tokenizer, reply),
                stopping_criteria=StoppingCriteriaList([StopWhenReplyStopped()]),
                **settings,
            )
        generated = output[0, len(request.ids) :].tolist()
        ended_by_eos = bool(generated) and generated[-1] == self.tokenizer.eos_token_id
        return ("stop" if ended_by_eos else "length"), len(request.ids), len(generated)


@contextlib.contextmanager
def _quiet_assisted_generation(quiet: bool) -> Iterator[None]:
    """Silence the two warnings transformers logs about its *own* call of the draft's ``generate``
    (a generation config passed with arguments, the repetition penalty passed twice): nothing a
    user did or can change."""
    logger = logging.getLogger("transformers.generation.utils")
    level = logger.level
    if quiet:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _pieces(tokenizer: Any) -> list[str]:
    """A tokenizer's vocabulary as its pieces in id order."""
    vocab = tokenizer.get_vocab()
    return sorted(vocab, key=vocab.__getitem__)


class _IncrementalDecoder:
    """A transformers streamer that decodes the reply so far and pushes only the new characters.

    Decoding the whole reply each step keeps SentencePiece's spacing and byte-fallback pieces
    right; text ending in U+FFFD (an incomplete UTF-8 sequence) is held back until it completes.
    """

    def __init__(self, tokenizer: Any, reply: ReplyBuilder) -> None:
        self.tokenizer = tokenizer
        self.reply = reply
        self.ids: list[int] = []
        self.sent = 0
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate() sends the prompt first
            self.prompt_seen = True
            return
        self.ids.extend(int(i) for i in value.reshape(-1).tolist())
        self._push(final=False)

    def end(self) -> None:
        self._push(final=True)

    def _push(self, final: bool) -> None:
        if self.reply.stopped:
            return
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if not final and text.endswith("\ufffd"):
            return
        if len(text) > self.sent:
            self.reply.push(text[self.sent :])
            self.sent = len(text)


def generate_reply(
    model: Any,
    tokenizer: Any,
    messages: list[dict[str, str]],
    *,
    template: str = DEFAULT_TEMPLATE,
    sampling: Sampling = UPSTREAM,
    greedy: bool = False,
    seed: int | None = None,
    on_text: Callable[[str], None] | None = None,
) -> str:
    """The assistant's next message for ``messages``, from a ``(model, tokenizer)`` of ``zhllama.load``.

    A convenience over ``TransformersBackend(model, tokenizer).complete(...)``: the prompt ids come
    from the template's structure (typed control strings stay text), ``greedy`` switches sampling
    off (the repetition penalty still applies, as upstream), ``on_text`` receives the reply as it
    is produced.
    """
    backend = TransformersBackend(model, tokenizer)
    return backend.complete(
        messages, template=template, sampling=sampling, greedy=greedy, seed=seed, on_text=on_text
    ).text

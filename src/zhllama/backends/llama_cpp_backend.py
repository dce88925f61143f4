"""The llama.cpp backend: a GGUF file run by llama-cpp-python in-process.

Why this lives in ``zhllama.backends`` and not under ``adapters/``: llama.cpp is a *runtime* here,
like torch is for the transformers backend, not an ecosystem zhllama injects itself into; the
LangChain adapter, docqa and the LlamaIndex adapter all generate through it. ``llama_cpp`` is
imported only when a backend is built, so ``import zhllama.backends`` stays light.

The prompt goes in as token ids (``create_completion(prompt=list[int])``), built segment by
segment with llama.cpp's own tokenizer and ``special=False``: typed ``</s>`` stays text. RoPE
settings come from ``zhllama.core.rope_scaling.plan(...).llama_cpp()``. A JSON schema constrains
decoding through llama.cpp's grammar sampler (``constrained_decoding``).

Sampling differs from transformers in ways no setting removes: llama.cpp applies its repeat
penalty only to *generated* tokens within the last ``last_n_tokens_size`` (transformers: to every
token of prompt and reply), and applies top-k/top-p before the temperature (transformers: after).
Greedy decoding without a repetition penalty is the same computation in both.
"""

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zhllama.backends.base import BackendBase, GenerationRequest
from zhllama.backends.protocol import BackendError, FinishReason
from zhllama.backends.reply import ReplyBuilder
from zhllama.backends.speculation import check_speculation


class LlamaCppTokenizer:
    """llama.cpp's tokenizer seen through the small part of the transformers API zhllama uses.

    ``tokenizer(text, add_special_tokens=False)`` gives plain-text ids (no BOS, control strings
    not parsed), which is what ``encode_messages`` needs for each text run.
    """

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.bos_token_id = int(llama.token_bos())
        self.eos_token_id = int(llama.token_eos())
        self.unk_token_id = None  # byte fallback: text never becomes <unk>

    def __call__(self, text: str, add_special_tokens: bool = False, **_: Any) -> dict[str, list[int]]:
        ids = self.llama.tokenize(text.encode("utf-8"), add_bos=add_special_tokens, special=False)
        return {"input_ids": [int(i) for i in ids]} if text else {"input_ids": []}


def _gguf_file(path: str | os.PathLike, what: str) -> Path:
    file = Path(path).expanduser()
    if not file.is_file():
        raise BackendError(
            f"{what} {str(file)!r} does not exist: convert a model folder first "
            "(zhllama gguf export MODEL_DIR OUT.gguf)"
        )
    return file


_MODEL_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def _no_amx_on_amx_cpus() -> Iterator[None]:
    """Build ``Llama``s without llama.cpp's extra weight buffers (AMX, repacking) on a CPU with AMX.

    llama.cpp's AMX matrix multiplication crashes the process (a segfault) on quantized weights
    (Q4_0, Q8_0, Q4_K...) on such CPUs (ggml-org/llama.cpp#20824, open); f32/f16 files never use it.
    ``llama_model_params.use_extra_bufts`` turns it off, but llama-cpp-python's ``Llama`` has no
    argument for it, so its default parameters are wrapped while a ``Llama`` is built.
    """
    import llama_cpp

    if b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info():
        yield
        return
    with _MODEL_PARAMS_LOCK:
        default = llama_cpp.llama_cpp.llama_model_default_params

        def without_extra_buffers() -> Any:
            params = default()
            params.use_extra_bufts = False
            return params

        llama_cpp.llama_cpp.llama_model_default_params = without_extra_buffers
        try:
            yield
        finally:
            llama_cpp.llama_cpp.llama_model_default_params = default


def _loading(path: Any, load: Any) -> Any:
    """``load()`` (which builds a ``Llama`` of ``path``) with llama.cpp's bare failure explained."""
    try:
        with _no_amx_on_amx_cpus():
            return load()
    except (ValueError, RuntimeError, OSError) as exc:  # llama.cpp says only "Failed to load model"
        raise BackendError(
            f"llama.cpp cannot load {str(path)!r} ({exc}): is the file complete and a GGUF this "
            "llama.cpp reads? Export it again (zhllama gguf export MODEL_DIR OUT.gguf)"
        ) from exc


def llama_cpp_plan(
    model_path: str | os.PathLike,
    *,
    context: int | None = None,
    rope_method: str | None = None,
    rope_params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The RoPE plan's llama.cpp settings for a GGUF: ``{"kwargs": Llama(...) keywords, ...}``, with
    ``"grouped_attention"`` (``group``, ``window``) when the method changes the attention.

    Without ``context``, ``rope_method`` or ``rope_params`` the model runs at its trained length with
    the RoPE settings in its metadata. Otherwise ``plan(config, context, rope_method, rope_params)``
    decides, ``config`` being what the GGUF's metadata says about the checkpoint (``read_config``).
    """
    from zhllama.checkpoints.gguf import read_config
    from zhllama.core import rope_scaling

    config = read_config(model_path)
    if context is None and rope_method is None and not rope_params:
        return {"kwargs": {"n_ctx": int(config["max_position_embeddings"])}}
    target = context if context is not None else rope_scaling.describe(config).trained_length
    chosen = rope_scaling.plan(config, target, rope_method, rope_params, runtime="llamacpp")
    return dict(chosen.llama_cpp()["settings"])


def llama_cpp_kwargs(
    model_path: str | os.PathLike, *, context: int | None = None, rope_method: str | None = None
) -> dict[str, Any]:
    """``Llama(...)`` keyword arguments for a GGUF run by a plain ``llama_cpp.Llama`` (a server):
    ``llama_cpp_plan``'s, refused for a method that needs ``LlamaCppBackend``'s own attention."""
    settings = llama_cpp_plan(model_path, context=context, rope_method=rope_method)
    if "grouped_attention" in settings:
        raise BackendError(
            f"rope method {rope_method!r} changes the attention, which runs only in zhllama's in-process "
            "llama.cpp backend (LlamaCppBackend.from_gguf, `--gguf`); llama-cpp-python's server builds "
            "its own Llama: use another rope method there"
        )
    return dict(settings["kwargs"])


class LlamaCppBackend(BackendBase):
    """Generate with a ``llama_cpp.Llama`` (see ``from_gguf``).

    Speculative decoding is llama-cpp-python's ``Llama(draft_model=...)``: ``from_gguf(draft=...)``
    or ``from_gguf(lookup=N)`` (``zhllama.backends.speculation``). CFG sampling is not available.
    """

    name = "llama.cpp"

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.tokenizer = LlamaCppTokenizer(llama)
        self._lock = threading.Lock()

    @property
    def speculative(self) -> bool:
        return getattr(self.llama, "draft_model", None) is not None

    @classmethod
    def from_gguf(
        cls,
        model_path: str | os.PathLike,
        *,
        context: int | None = None,
        rope_method: str | None = None,
        rope_params: dict[str, Any] | None = None,
        n_threads: int | None = None,
        verbose: bool = False,
        draft: str | os.PathLike | None = None,
        lookup: int | None = None,
        **llama_kwargs: Any,
    ) -> "LlamaCppBackend":
        """Load ``model_path`` with the context and RoPE settings of ``llama_cpp_plan``; grouped
        attention (``rope_method="selfextend"``) is switched on in the loaded model
        (``llama_cpp_grouped``).

        ``draft`` (a GGUF with the same vocabulary, run with the same context and RoPE settings) or
        ``lookup`` (prompt lookup proposing that many tokens) switches on speculative decoding.
        ``llama_kwargs`` go to ``llama_cpp.Llama`` last and win (e.g. ``n_gpu_layers``).
        """
        check_speculation(draft, lookup)
        path = _gguf_file(model_path, "GGUF file")
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError("llama-cpp-python is not installed: pip install 'zhllama[llamacpp]'") from exc
        settings = llama_cpp_plan(path, context=context, rope_method=rope_method, rope_params=rope_params)
        kwargs = dict(settings["kwargs"])
        if n_threads is not None:
            kwargs["n_threads"] = n_threads
        kwargs.update(llama_kwargs)
        if draft is not None or lookup is not None:
            if "grouped_attention" in settings:
                raise BackendError(
                    "speculative decoding (`draft`, `lookup`) and grouped attention (rope method "
                    "selfextend) do not run together in llama.cpp: drop one of them"
                )
            from zhllama.backends.llama_cpp_draft import draft_model

            draft_kwargs: dict[str, Any] = {}
            if draft is not None:
                draft_path = _gguf_file(draft, "`draft`")
                draft_kwargs = llama_cpp_kwargs(draft_path, context=kwargs["n_ctx"], rope_method=rope_method)
                draft_kwargs.update(n_ctx=kwargs["n_ctx"], verbose=verbose)
                if n_threads is not None:
                    draft_kwargs["n_threads"] = n_threads
            kwargs["draft_model"] = _loading(draft, lambda: draft_model(draft, lookup, **draft_kwargs))
        llama = _loading(path, lambda: Llama(model_path=str(path), verbose=verbose, **kwargs))
        if draft is not None:
            from zhllama.backends.llama_cpp_draft import check_draft_vocabulary

            check_draft_vocabulary(llama, kwargs["draft_model"], draft)
        if "grouped_attention" in settings:
            from zhllama.backends import llama_cpp_grouped

            llama_cpp_grouped.enable(llama, **settings["grouped_attention"])
        return cls(llama)

    @property
    def model_name(self) -> str:
        return str(self.llama.model_path)

    @property
    def context_window(self) -> int:
        return int(self.llama.n_ctx())

    def token_nll(self, ids: list[int]) -> Any:
        """Negative log-likelihood (float64 numpy array of ``len(ids) - 1``) of each next token of
        ``ids``, computed by llama.cpp in one pass. The ``Llama`` must keep every position's logits
        (``from_gguf(..., logits_all=True)``) and hold ``len(ids)`` tokens (``n_ctx``, ``n_batch``)."""
        import numpy as np

        if len(ids) < 2:
            raise BackendError(f"a window needs at least 2 tokens, got {len(ids)}")
        with self._lock:
            self.llama.reset()
            self.llama.eval(list(ids))
            shifted = self.llama.scores[: len(ids) - 1]
            shifted = shifted - shifted.max(axis=1, keepdims=True)  # float32, as transformers' loss
        log_total = np.log(np.exp(shifted).sum(axis=1, dtype=np.float64))
        return log_total - shifted[np.arange(len(ids) - 1), np.asarray(ids[1:])]

    def _generate(self, request: GenerationRequest, reply: ReplyBuilder) -> tuple[FinishReason, int, int]:
        from llama_cpp import StoppingCriteriaList

        sampled = 0

        def count(_input_ids: Any, _logits: Any) -> bool:
            nonlocal sampled
            sampled += 1
            return False

        sampling = request.sampling
        settings: dict[str, Any] = {
            "temperature": 0.0 if request.greedy else sampling.temperature,
            "top_k": sampling.top_k,
            "top_p": sampling.top_p,
            "min_p": 0.0,  # llama-cpp-python defaults to 0.05; upstream samples without it
            "typical_p": 1.0,
            "repeat_penalty": sampling.repetition_penalty,
        }
        if request.json_schema is not None:
            from zhllama.backends.constrained_decoding import llama_cpp_grammar

            settings["grammar"] = llama_cpp_grammar(request.json_schema)
        finish = "length"
        with self._lock:
            stream = self.llama.create_completion(
                prompt=request.ids,
                max_tokens=request.max_tokens,
                stream=True,
                seed=request.seed,
                stopping_criteria=StoppingCriteriaList([count]),
                **settings,
            )
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    if reply.push(choice["text"]):
                        break
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            finally:
                stream.close()
        # llama-cpp-python samples one token past max_tokens before it notices the limit
        completion_tokens = min(sampled, request.max_tokens)
        return ("stop" if finish == "stop" else "length"), len(request.ids), completion_tokens

"""How to start vLLM for a checkpoint and a context: ``vllm serve`` flags or ``vllm.LLM`` kwargs.

One ``ServeSettings`` holds everything that must be right together: the RoPE ``hf_overrides``
and ``max_model_len`` of ``plan(config, N).vllm()``, the tokenizer folder, the family's chat
template (vLLM's ``/v1/chat/completions`` fails on a model folder without ``chat_template``, and
HF's Llama-2 template puts spaces differently), upstream's sampling defaults as the server's
default generation config, the tensor-parallel size, and speculative decoding (vLLM's
``speculative_config``: n-gram prompt lookup or a draft model). Nothing here imports vLLM, torch or
transformers at import time, so ``zhllama vllm args`` runs outside vLLM's environment too.
"""

import json
import os
import shlex
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhllama.core.model_config import read_model_config
from zhllama.core.rope_scaling import RopePlan, RopeReachWarning, describe, plan
from zhllama.core.sampling import UPSTREAM
from zhllama.errors import ModelLoadError

TOKENIZER_FIX = "zhllama tokenizer check {folder} --fix"
SPECULATIVE_TOKENS = 4
"""Tokens the draft (or n-gram lookup) proposes per step unless told otherwise."""


@dataclass(frozen=True)
class ServeSettings:
    """Everything vLLM needs to serve ``model`` at ``max_model_len`` tokens the family's way."""

    model: str
    tokenizer: str
    max_model_len: int
    hf_overrides: dict[str, Any]
    template: str
    chat_template: str
    generation_config: dict[str, Any]
    tensor_parallel_size: int = 1
    rope_plan: RopePlan | None = None
    notes: tuple[str, ...] = field(default=())
    speculative_config: dict[str, Any] | None = None

    def llm_kwargs(self, chat_template: str | os.PathLike | None = None) -> dict[str, Any]:
        """Keyword arguments for ``vllm.LLM(**kwargs)``.

        ``chat_template`` (a file path) replaces the template text; ``LLM.chat`` uses it.
        """
        kwargs = {
            "model": self.model,
            "tokenizer": self.tokenizer,
            "hf_overrides": self.hf_overrides,
            "max_model_len": self.max_model_len,
            "tensor_parallel_size": self.tensor_parallel_size,
            "chat_template": str(chat_template) if chat_template is not None else self.chat_template,
            "override_generation_config": self.generation_config,
        }
        if self.speculative_config is not None:
            kwargs["speculative_config"] = self.speculative_config
        return kwargs

    def serve_args(self, chat_template_file: str | os.PathLike) -> list[str]:
        """The ``vllm serve`` argument list, with the chat template read from ``chat_template_file``."""
        args = [
            "vllm",
            "serve",
            self.model,
            "--tokenizer",
            self.tokenizer,
            "--hf-overrides",
            json.dumps(self.hf_overrides, sort_keys=True),
            "--max-model-len",
            str(self.max_model_len),
            "--chat-template",
            str(chat_template_file),
            "--override-generation-config",
            json.dumps(self.generation_config, sort_keys=True),
        ]
        if self.tensor_parallel_size != 1:
            args += ["--tensor-parallel-size", str(self.tensor_parallel_size)]
        if self.speculative_config is not None:
            args += ["--speculative-config", json.dumps(self.speculative_config, sort_keys=True)]
        return args

    def serve_command(self, chat_template_file: str | os.PathLike) -> str:
        """``serve_args`` quoted for a POSIX shell."""
        return shlex.join(self.serve_args(chat_template_file))

    def write_chat_template(self, path: str | os.PathLike) -> Path:
        """Write the chat template to ``path`` (atomically) for ``--chat-template``; return the path."""
        from zhllama.core.templates import exports, get_template

        return exports.write_export(get_template(self.template), "vllm", path)


def tokenizer_notes(folder: Path) -> list[str]:
    """What is wrong with how vLLM (``AutoTokenizer.from_pretrained``) would load ``folder``'s tokenizer."""
    from zhllama.core.tokenizer.sentencepiece_tokenizer import EXACT_TOKENIZER_CONFIG

    if not (folder / "tokenizer.model").is_file():
        return [
            f"{folder} has no tokenizer.model: pass --tokenizer with the Chinese-LLaMA-2 tokenizer folder"
        ]
    path = folder / "tokenizer_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        config = {}
    differs = sorted(key for key, value in EXACT_TOKENIZER_CONFIG.items() if config.get(key) != value)
    if differs or (folder / "tokenizer.json").is_file():
        fix = TOKENIZER_FIX.format(folder=folder)
        return [
            f"vLLM would load {folder}'s tokenizer through transformers' converted BPE, whose ids differ "
            f"from SentencePiece's on about a quarter of Chinese lines: run `{fix}` once "
            "(it rewrites tokenizer_config.json, keeping a backup)"
        ]
    return []


def speculative_config(
    folder: Path, config: dict[str, Any], draft: str | os.PathLike, tokens: int = SPECULATIVE_TOKENS
) -> dict[str, Any]:
    """vLLM's ``speculative_config`` for ``draft``: ``"ngram"`` (prompt lookup, n-grams of 1..2 tokens
    as in transformers and llama.cpp) or a draft model folder with the vocabulary of ``folder``."""
    from zhllama.backends.speculation import LOOKUP_NGRAM

    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        raise ModelLoadError(f"`speculative_tokens` must be a whole number >= 1, got {tokens!r}")
    if str(draft) == "ngram":
        return {
            "method": "ngram",
            "num_speculative_tokens": tokens,
            "prompt_lookup_min": 1,
            "prompt_lookup_max": LOOKUP_NGRAM,
        }
    draft_dir = Path(draft).expanduser()
    try:
        draft_config = read_model_config(draft_dir)
    except ModelLoadError as exc:
        raise ModelLoadError(f"`draft` (a draft model folder, or 'ngram'): {exc}") from None
    if draft_config.get("vocab_size") != config.get("vocab_size"):
        raise ModelLoadError(
            f"the `draft` {str(draft_dir)!r} has a vocabulary of {draft_config.get('vocab_size')} tokens, "
            f"the model {config.get('vocab_size')}: vLLM runs the draft with the model's tokenizer"
        )
    if (draft_dir / "tokenizer.model").is_file() and (folder / "tokenizer.model").is_file():
        from zhllama.backends.speculation import check_same_vocabulary
        from zhllama.core.tokenizer.model_file import load_processor

        pieces = [
            load_processor(path).id_to_piece
            for path in (folder / "tokenizer.model", draft_dir / "tokenizer.model")
        ]
        size = int(config["vocab_size"])
        check_same_vocabulary(
            [pieces[0](i) for i in range(size)], [pieces[1](i) for i in range(size)], repr(str(draft_dir))
        )
    return {"method": "draft_model", "model": str(draft_dir), "num_speculative_tokens": tokens}


def serve_settings(
    model_dir: str | os.PathLike,
    context: int,
    *,
    method: str | None = None,
    params: dict[str, Any] | None = None,
    template: str | None = None,
    tokenizer: str | os.PathLike | None = None,
    tensor_parallel_size: int = 1,
    draft: str | os.PathLike | None = None,
    speculative_tokens: int = SPECULATIVE_TOKENS,
) -> ServeSettings:
    """The settings that serve ``model_dir`` at ``context`` tokens in vLLM.

    ``method`` defaults to the checkpoint's recommended RoPE scaling (``plan``), ``params``
    override its parameters; ``template`` to the one the ``choose_template`` hook picks;
    ``tokenizer`` to the model folder. ``draft`` (``"ngram"`` or a draft model folder) turns on
    speculative decoding with ``speculative_tokens`` proposed per step (``speculative_config``).
    Raises ``ModelLoadError`` without a readable config.json or with a draft of another
    vocabulary, and ``RopeScalingError`` for a target or
    method the checkpoint cannot take. A target past the method's reach is allowed; its warning
    is among ``notes``.
    """
    from zhllama.core.templates import get_template, template_for_model

    folder = Path(model_dir).expanduser()
    config = read_model_config(folder)
    if (
        isinstance(tensor_parallel_size, bool)
        or not isinstance(tensor_parallel_size, int)
        or tensor_parallel_size < 1
    ):
        raise ModelLoadError(
            f"tensor_parallel_size must be a whole number >= 1, got {tensor_parallel_size!r}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RopeReachWarning)  # carried in the plan's notes
        rope_plan = plan(config, context, method, params, runtime="vllm")
    rendered = rope_plan.vllm()
    speculation = speculative_config(folder, config, draft, speculative_tokens) if draft is not None else None
    draft_notes = []
    if speculation is not None and "model" in speculation:
        trained = describe(read_model_config(Path(speculation["model"]))).trained_length
        if trained < rendered["settings"]["max_model_len"]:
            draft_notes.append(
                f"the draft was trained for {trained} tokens and vLLM gives it none of the model's RoPE "
                "overrides: its proposals past that are likely poor (the output stays the model's)"
            )
    name = template or template_for_model(folder)
    tokenizer_dir = Path(tokenizer).expanduser() if tokenizer is not None else folder
    sampling = UPSTREAM.as_dict()
    return ServeSettings(
        model=str(folder),
        tokenizer=str(tokenizer_dir),
        max_model_len=rendered["settings"]["max_model_len"],
        hf_overrides=rendered["settings"]["hf_overrides"],
        template=name,
        chat_template=get_template(name).chat_template_with_bos,
        generation_config=sampling,
        tensor_parallel_size=tensor_parallel_size,
        rope_plan=rope_plan,
        notes=(*rope_plan.warnings, *rendered["notes"], *tokenizer_notes(tokenizer_dir), *draft_notes),
        speculative_config=speculation,
    )


def llm_kwargs(model_dir: str | os.PathLike, context: int, **options: Any) -> dict[str, Any]:
    """``vllm.LLM(**llm_kwargs(model_dir, context))``: ``serve_settings(...).llm_kwargs()``."""
    return serve_settings(model_dir, context, **options).llm_kwargs()

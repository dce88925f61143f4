"""What other runtimes get from a model folder, and how to make them get the exact tokenizer.

vLLM, text-generation-webui and the LangChain/LlamaIndex Hugging Face wrappers all call
``AutoTokenizer.from_pretrained(folder)``. For a stock Chinese-LLaMA-2 folder transformers 5
converts tokenizer.model into a ``tokenizers`` BPE whose ids differ from SentencePiece's.

:func:`check_folder` loads the folder that way and measures the difference, in ids and in the
text decoded back. :func:`fix_folder` rewrites ``tokenizer_config.json`` so that the same call
builds transformers' own ``SentencePieceBackend`` configured as upstream (legacy, BOS, no EOS):
exact ids, and no ``trust_remote_code`` needed. The old config is kept as
``tokenizer_config.json.bak`` and a ``tokenizer.json`` that disagrees with SentencePiece is moved to
``tokenizer.json.bak``. That class decodes byte-fallback pieces as text in plain transformers
(``zhllama.patching.sentencepiece_decoding`` says why, and fixes it where zhllama runs):
``check_folder`` reports it rather than calling such a folder exact.
"""

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from zhllama.core.files import free_backup_path, write_atomic
from zhllama.core.tokenizer.model_file import MODEL_FILENAME, load_processor, resolve_model_file
from zhllama.core.tokenizer.parity import ParityReport, compare_decoding, compare_with_sentencepiece
from zhllama.core.tokenizer.samples import BUILTIN_SENTENCES
from zhllama.core.tokenizer.sentencepiece_tokenizer import EXACT_TOKENIZER_CONFIG
from zhllama.errors import TokenizerError

CONFIG_FILENAME = "tokenizer_config.json"
FAST_FILENAME = "tokenizer.json"


@dataclass
class FolderCheck:
    """The tokenizer ``AutoTokenizer`` builds for a folder, compared with SentencePiece.

    ``parity``: ids; ``decoding``: the text decoded from SentencePiece's ids, in this process.
    ``ok`` is about what the model is given (ids, BOS, no EOS); ``decodes_exactly`` about its output.
    """

    folder: str
    tokenizer_class: str
    is_fast: bool
    adds_bos: bool
    adds_eos: bool
    parity: ParityReport
    decoding: ParityReport

    @property
    def ok(self) -> bool:
        return self.parity.mismatched == 0 and self.adds_bos and not self.adds_eos

    @property
    def decodes_exactly(self) -> bool:
        return self.decoding.mismatched == 0

    def to_dict(self) -> dict:
        return {
            "folder": self.folder,
            "tokenizer_class": self.tokenizer_class,
            "is_fast": self.is_fast,
            "adds_bos": self.adds_bos,
            "adds_eos": self.adds_eos,
            "ok": self.ok,
            **self.parity.to_dict(),
            "decodes_exactly": self.decodes_exactly,
            "decoding": self.decoding.to_dict(),
        }


@dataclass
class FixResult:
    """Files ``fix_folder`` wrote or moved (empty lists: the folder was already right)."""

    written: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.written or self.backups)


def _model_folder(folder: str | os.PathLike) -> Path:
    model_file = resolve_model_file(folder)
    if model_file.name != MODEL_FILENAME or not Path(folder).is_dir():
        raise TokenizerError(f"expected a model folder containing {MODEL_FILENAME}, got {folder}")
    return model_file.parent


def load_as_runtimes_do(folder: str | os.PathLike, trust_remote_code: bool = False):
    """``AutoTokenizer.from_pretrained(folder)``, offline, as vLLM and webui call it."""
    from transformers import AutoTokenizer

    folder = _model_folder(folder)
    try:
        return AutoTokenizer.from_pretrained(
            str(folder), trust_remote_code=trust_remote_code, local_files_only=True
        )
    except (OSError, ValueError, ImportError) as e:
        raise TokenizerError(f"AutoTokenizer cannot load {folder}: {e}") from e


def check_folder(
    folder: str | os.PathLike, lines: Iterable[str] | None = None, trust_remote_code: bool = False
) -> FolderCheck:
    """Load ``folder`` as runtimes do and compare its ids and decoding with SentencePiece on ``lines``.

    ``lines`` defaults to :data:`BUILTIN_SENTENCES`; the user's own text is a better sample.
    """
    folder_path = _model_folder(folder)
    tokenizer = load_as_runtimes_do(folder_path, trust_remote_code=trust_remote_code)
    sample = list(BUILTIN_SENTENCES if lines is None else lines)
    parity = compare_with_sentencepiece(tokenizer, folder_path / MODEL_FILENAME, sample)
    decoding = compare_decoding(tokenizer, folder_path / MODEL_FILENAME, sample)
    ids = tokenizer("你好")["input_ids"]
    return FolderCheck(
        folder=str(folder_path),
        tokenizer_class=type(tokenizer).__name__,
        is_fast=bool(getattr(tokenizer, "is_fast", False)),
        adds_bos=bool(ids) and ids[0] == tokenizer.bos_token_id,
        adds_eos=bool(ids) and ids[-1] == tokenizer.eos_token_id,
        parity=parity,
        decoding=decoding,
    )


def _fast_file_is_exact(path: Path, model_file: Path, lines: Iterable[str]) -> bool:
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(str(path))
    except Exception:  # an unreadable tokenizer.json is as bad as a wrong one
        return False
    sp = load_processor(model_file)
    for line in lines:
        tok.encode_special_tokens = True
        if tok.encode(line, add_special_tokens=False).ids != sp.encode(line):
            return False
    return True


def fix_folder(folder: str | os.PathLike, lines: Iterable[str] | None = None) -> FixResult:
    """Make ``AutoTokenizer.from_pretrained(folder)`` return the exact tokenizer. Idempotent.

    Rewrites tokenizer_config.json (atomically, old file backed up, every other key kept) with
    :data:`EXACT_TOKENIZER_CONFIG`, drops an ``auto_map`` AutoTokenizer entry, and moves aside a
    tokenizer.json that disagrees with SentencePiece on ``lines`` (default: the built-in sample).
    """
    folder_path = _model_folder(folder)
    model_file = folder_path / MODEL_FILENAME
    load_processor(model_file)  # a clear error for a bad model before anything is written
    result = FixResult()

    config_path = folder_path / CONFIG_FILENAME
    config: dict = {}
    if config_path.exists():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise TokenizerError(f"{config_path} is not valid JSON ({e}); fix or remove it first") from e
    fixed = {k: v for k, v in config.items() if k not in ("tokenizer_file",)}
    fixed.update(EXACT_TOKENIZER_CONFIG)
    auto_map = dict(fixed.get("auto_map") or {})
    if "AutoTokenizer" in auto_map:
        del auto_map["AutoTokenizer"]
        if auto_map:
            fixed["auto_map"] = auto_map
        else:
            fixed.pop("auto_map")
    if fixed != config:
        if config_path.exists():
            backup = free_backup_path(config_path)
            shutil.copy2(config_path, backup)
            result.backups.append(str(backup))
        data = json.dumps(fixed, indent=2, ensure_ascii=False) + "\n"
        write_atomic(config_path, data)
        result.written.append(str(config_path))

    fast_path = folder_path / FAST_FILENAME
    sample = list(BUILTIN_SENTENCES if lines is None else lines)
    if fast_path.exists() and not _fast_file_is_exact(fast_path, model_file, sample):
        backup = free_backup_path(fast_path)
        os.replace(fast_path, backup)
        result.backups.append(str(backup))
    return result


LINKED_SUFFIXES = (".safetensors", ".bin", ".model")
"""Files ``fixed_copy`` links instead of copying: weights and the SentencePiece model (never rewritten)."""


def fixed_copy(folder: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """A copy of model ``folder`` at ``destination`` that runtimes tokenize exactly; ``folder`` is untouched.

    Weights and ``tokenizer.model`` are symlinked, every other file is copied, then :func:`fix_folder`
    runs on the copy: a read-only or shared model folder can be served without editing it.
    ``destination`` must not exist yet.
    """
    source = _model_folder(folder).resolve()
    target = Path(destination)
    if target.exists():
        raise TokenizerError(f"`destination` {target} exists: pass a new folder for the fixed copy")
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file() and path.suffix in LINKED_SUFFIXES:
            os.symlink(path, target / path.name)
        elif path.is_file():
            shutil.copyfile(path, target / path.name)
    fix_folder(target)
    return target

"""Quantize a GGUF file with llama.cpp's own quantizer: ``quantize_gguf``.

zhllama writes f32/f16 GGUF files itself (``export_gguf``) and leaves quantization to llama.cpp:
``llama_model_quantize`` (exposed by llama-cpp-python) is the code ``llama-quantize`` runs, with its
per-tensor mixtures (Q4_K_M keeps some ``attn_v``/``ffn_down`` at Q6_K, the token embeddings at
Q6_K, ...) and its fallbacks. The types are llama.cpp's own ``LLAMA_FTYPE_*`` list, lower-cased
(``q4_k_m``, ``q8_0``, ``iq4_nl``...), plus ``llama-quantize``'s aliases ``q3_k``/``q4_k``/``q5_k``
for the ``_m`` mixtures.

Two llama.cpp rules show in small models: a K-quant (and IQ type) needs rows whose length is a
multiple of 256, a legacy type (Q4_0, Q8_0, ...) a multiple of 32; a tensor that is neither is kept
at F16 (llama.cpp's "falling back" warning, kept in ``Quantized.fallbacks``). The very-low-bit types
(IQ1/IQ2, Q2_K_S) need an importance matrix (``imatrix``, see ``zhllama.checkpoints.gguf.imatrix``).

llama.cpp reports its progress through its log; while quantizing, zhllama's own log callback reads
it (``on_tensor(done, total, name)``, the fallbacks, the reason of a failure) and puts
llama-cpp-python's back afterwards.
"""

import ctypes
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from zhllama.errors import QuantizationError

ALIASES = {"q3_k": "q3_k_m", "q4_k": "q4_k_m", "q5_k": "q5_k_m"}
"""``llama-quantize``'s short names for the medium K-quant mixtures."""
UNQUANTIZED_FILE_TYPES = {0: "f32", 1: "f16", 32: "bf16"}
"""``general.file_type`` values a quantizer may start from (anything else would be requantized)."""

_PROGRESS = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]\s+(\S+)")


@dataclass(frozen=True)
class Quantized:
    """A quantized file: its path, type and size; how many tensors of each ggml type it holds; and
    llama.cpp's notes on tensors it could not quantize as asked (their row length)."""

    path: Path
    quant: str
    size: int
    tensor_types: dict[str, int]
    fallbacks: list[str] = field(default_factory=list)


def quant_types() -> dict[str, int]:
    """llama.cpp's file types by lower-case name (``f32``, ``f16``, ``q8_0``, ``q4_k_m``, ...)."""
    import llama_cpp

    types = {"f32": int(llama_cpp.LLAMA_FTYPE_ALL_F32)}
    for name in dir(llama_cpp):
        if name.startswith("LLAMA_FTYPE_MOSTLY_"):
            types[name.removeprefix("LLAMA_FTYPE_MOSTLY_").lower()] = int(getattr(llama_cpp, name))
    return types


def resolve_quant(quant: str) -> tuple[str, int]:
    """``(name, llama_ftype)`` of a type name in any case (``Q4_K_M``, ``q4_k``); a clear error otherwise."""
    types = quant_types()
    name = ALIASES.get(str(quant).strip().lower(), str(quant).strip().lower())
    if name not in types:
        offered = ", ".join([*types, *ALIASES])
        raise QuantizationError(f"unknown quantization type `quant` {quant!r}: llama.cpp offers {offered}")
    return name, types[name]


def quantize_gguf(
    source: str | os.PathLike,
    out: str | os.PathLike,
    quant: str,
    *,
    imatrix: str | os.PathLike | None = None,
    threads: int | None = None,
    on_tensor: Callable[[int, int, str], None] | None = None,
) -> Quantized:
    """Quantize the f32/f16/bf16 GGUF ``source`` to ``quant`` into ``out`` (written atomically).

    ``imatrix`` is an importance matrix file (llama.cpp's GGUF or legacy ``.dat`` format, or one
    from ``compute_imatrix``); ``threads`` defaults to every core; ``on_tensor(done, total, name)``
    follows llama.cpp's progress. Raises ``QuantizationError`` for an unknown type, a source that is
    not a GGUF or is already quantized, and whatever llama.cpp refuses (with its reason).
    """
    import llama_cpp

    from zhllama.checkpoints.gguf.reader import read_file_type

    name, ftype = resolve_quant(quant)
    source_path = Path(source).expanduser()
    target = Path(out).expanduser()
    if not source_path.is_file():
        raise QuantizationError(
            f"`source` {str(source_path)!r} is not a file: pass a GGUF from `zhllama gguf export`"
        )
    try:
        file_type = read_file_type(source_path)
    except Exception as exc:  # ModelLoadError for a damaged or foreign file
        raise QuantizationError(str(exc)) from None
    if file_type not in UNQUANTIZED_FILE_TYPES:
        kind = {number: known for known, number in quant_types().items()}.get(
            file_type, f"file type {file_type}"
        )
        raise QuantizationError(
            f"{source_path} is already quantized ({kind}): quantize from the f32 or f16 export "
            "(zhllama gguf export MODEL_DIR OUT.gguf), not from another quantization"
        )
    if target.resolve() == source_path.resolve():
        raise QuantizationError("`out` must be another file than `source`")
    if not target.parent.is_dir():
        raise QuantizationError(
            f"folder {str(target.parent)!r} does not exist: create it or choose another `out`"
        )

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = int(threads or 0)
    keep_alive = []
    if imatrix is not None:
        from zhllama.checkpoints.gguf.imatrix import imatrix_entries, read_imatrix

        entries, keep_alive = imatrix_entries(read_imatrix(imatrix))
        params.imatrix = entries
    partial = target.with_name(target.name + ".partial")
    log = _QuantizerLog(on_tensor)
    try:
        with log.capture():
            status = llama_cpp.llama_model_quantize(
                str(source_path).encode(), str(partial).encode(), ctypes.byref(params)
            )
        if status != 0:
            reason = log.error or "no reason given"
            raise QuantizationError(f"llama.cpp could not quantize {source_path} to {name}: {reason}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        del keep_alive
    return Quantized(target, name, target.stat().st_size, tensor_types(target), log.fallbacks)


def tensor_types(path: str | os.PathLike) -> dict[str, int]:
    """How many tensors of each ggml type (``Q4_K``, ``F32``, ...) the GGUF ``path`` holds."""
    import gguf

    from zhllama.checkpoints.gguf.reader import read_header

    names = Counter(gguf.GGMLQuantizationType(kind).name for _, kind in read_header(path).tensors)
    return dict(sorted(names.items()))


class _QuantizerLog:
    """llama.cpp's log while quantizing, line by line: progress, fallbacks, the last error."""

    def __init__(self, on_tensor: Callable[[int, int, str], None] | None) -> None:
        self.on_tensor = on_tensor
        self.pending = ""
        self.fallbacks: list[str] = []
        self.error: str | None = None

    def line(self, text: str) -> None:
        text = text.strip()
        progress = _PROGRESS.match(text)
        if progress and self.on_tensor is not None:
            self.on_tensor(int(progress.group(1)), int(progress.group(2)), progress.group(3))
        elif "falling back" in text:
            self.fallbacks.append(" ".join(text.removeprefix("warning:").split()))
        elif "failed" in text or "error" in text.lower() or "Missing importance matrix" in text:
            self.error = " ".join(text.split())

    @contextmanager
    def capture(self) -> Iterator[None]:
        import llama_cpp
        from llama_cpp import _logger

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            self.pending += text.decode("utf-8", errors="replace")
            *complete, self.pending = self.pending.split("\n")
            for line in complete:
                self.line(line)

        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
        try:
            yield
        finally:
            llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
            if self.pending:
                self.line(self.pending)

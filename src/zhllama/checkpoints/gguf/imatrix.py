"""Importance matrices for llama.cpp's quantizer: read one (``read_imatrix``), compute one
(``compute_imatrix``).

An importance matrix holds, for every weight matrix, the mean square of each input column's
activation over some text: the quantizer spends its precision on the columns that matter. What
llama.cpp's API allows: ``llama_model_quantize`` *takes* one (``llama_model_quantize_params.imatrix``,
an array of ``{name, values, size}``), but nothing in llama-cpp-python *computes* one: that is the
separate ``llama-imatrix`` program, which hooks llama.cpp's graph evaluation. So zhllama reads the
files ``llama-imatrix`` writes (GGUF: ``<tensor>.in_sum2`` and ``<tensor>.counts``; or the legacy
``.dat``), and computes the same statistics itself from the transformers model (a forward pre-hook on
every projection: the sum of squared inputs per column, and the token count), written in
``llama-imatrix``'s GGUF format under the GGUF tensor names, so either tool reads either's files.
Like ``llama-imatrix`` by default, the output head is left out, and each chunk starts with BOS.
"""

import ctypes
import os
import struct
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zhllama.errors import QuantizationError

IN_SUM2, COUNTS = ".in_sum2", ".counts"


def read_imatrix(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Tensor name -> mean squared activation per input column (float32), from an imatrix file."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise QuantizationError(
            f"`imatrix` {str(file)!r} is not a file: compute one with `zhllama gguf imatrix`"
        )
    with open(file, "rb") as handle:
        magic = handle.read(4)
    entries = _read_gguf(file) if magic == b"GGUF" else _read_legacy(file)
    if not entries:
        raise QuantizationError(f"`imatrix` {str(file)!r} holds no importance data")
    return entries


def _read_gguf(file: Path) -> dict[str, np.ndarray]:
    import gguf

    try:
        tensors = {
            tensor.name: np.asarray(tensor.data, dtype=np.float32)
            for tensor in gguf.GGUFReader(str(file)).tensors
        }
    except Exception as exc:  # a damaged GGUF raises anything from IndexError to struct.error
        raise QuantizationError(f"`imatrix` {str(file)!r} is not a readable GGUF ({exc})") from None
    entries = {}
    for name, sums in tensors.items():
        if not name.endswith(IN_SUM2):
            continue
        base = name.removesuffix(IN_SUM2)
        counts = tensors.get(base + COUNTS)
        if counts is None:
            raise QuantizationError(f"`imatrix` {str(file)!r} has {name} but no {base}{COUNTS}")
        per_expert = sums.reshape(counts.size, -1)
        if np.all(counts > 0):
            entries[base] = (per_expert / counts.reshape(-1, 1)).reshape(-1).astype(np.float32)
    if not entries and tensors:
        raise QuantizationError(
            f"`imatrix` {str(file)!r} is a GGUF without importance data (no *{IN_SUM2} tensors)"
        )
    return entries


def _read_legacy(file: Path) -> dict[str, np.ndarray]:
    """``llama-imatrix``'s first format: count, then (name, calls, values) per tensor."""
    data = file.read_bytes()
    entries = {}
    try:
        (count,), offset = struct.unpack_from("<i", data), 4
        if not 0 < count < 1_000_000:
            raise ValueError(f"{count} entries")
        for _ in range(count):
            (length,) = struct.unpack_from("<i", data, offset)
            name = data[offset + 4 : offset + 4 + length].decode("utf-8")
            offset += 4 + length
            calls, size = struct.unpack_from("<ii", data, offset)
            offset += 8
            values = np.frombuffer(data, dtype="<f4", count=size, offset=offset)
            offset += 4 * size
            if calls > 0:
                entries[name] = (values / calls).astype(np.float32)
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise QuantizationError(
            f"`imatrix` {str(file)!r} is neither a GGUF nor llama-imatrix's .dat format ({exc})"
        ) from None
    return entries


def imatrix_entries(entries: dict[str, np.ndarray]) -> tuple[Any, list[Any]]:
    """The NULL-terminated ``llama_model_imatrix_data`` array ``llama_model_quantize`` reads, and the
    buffers it points into (keep them alive until quantizing is done)."""
    import llama_cpp

    array = (llama_cpp.llama_model_imatrix_data * (len(entries) + 1))()
    alive: list[Any] = [array]
    for slot, (name, values) in zip(array, sorted(entries.items()), strict=False):
        buffer = np.ascontiguousarray(values, dtype=np.float32)
        encoded = name.encode("utf-8")
        alive += [buffer, encoded]
        slot.name = encoded
        slot.data = buffer.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        slot.size = buffer.size
    return array, alive


def compute_imatrix(
    model_dir: str | os.PathLike,
    texts: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    chunk_tokens: int = 512,
    max_chunks: int | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> Path:
    """Compute the importance matrix of ``model_dir`` over the UTF-8 files ``texts`` and write it to
    ``out`` in ``llama-imatrix``'s GGUF format.

    The text is cut into chunks of ``chunk_tokens`` (BOS first; at most ``max_chunks``), as
    ``llama-imatrix -c chunk_tokens`` does; ``on_chunk(done, total)`` reports progress.
    """
    import torch

    from zhllama.checkpoints.gguf.tensors import gguf_name
    from zhllama.checkpoints.gguf.writer import gguf_file_writer
    from zhllama.checkpoints.model_loader import load
    from zhllama.core.tokenizer import encode_text

    if isinstance(chunk_tokens, bool) or not isinstance(chunk_tokens, int) or chunk_tokens < 2:
        raise QuantizationError(f"`chunk_tokens` must be a whole number >= 2, got {chunk_tokens!r}")
    target = Path(out).expanduser()
    if not target.parent.is_dir():
        raise QuantizationError(
            f"folder {str(target.parent)!r} does not exist: create it or choose another `out`"
        )
    model, tokenizer = load(model_dir)
    chunks = _chunks(texts, lambda text: encode_text(tokenizer, text), tokenizer.bos_token_id, chunk_tokens)
    chunks = chunks[:max_chunks] if max_chunks is not None else chunks
    if not chunks:
        raise QuantizationError(f"no {chunk_tokens}-token chunk fits the text in `texts`: give more text")
    sums: dict[str, Any] = {}
    counts: dict[str, int] = {}

    def collect(name: str) -> Callable[..., None]:
        def hook(_module: Any, inputs: tuple[Any, ...]) -> None:
            rows = inputs[0].reshape(-1, inputs[0].shape[-1]).double()
            sums[name] = sums.get(name, 0) + rows.square().sum(0)
            counts[name] = counts.get(name, 0) + rows.shape[0]

        return hook

    handles = [
        module.register_forward_pre_hook(collect(gguf_name(f"{name}.weight") or name))
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name != "lm_head"
    ]
    try:
        with torch.inference_mode():
            for done, chunk in enumerate(chunks, 1):
                model.model(input_ids=torch.tensor([chunk]), use_cache=False)
                if on_chunk is not None:
                    on_chunk(done, len(chunks))
    finally:
        for handle in handles:
            handle.remove()

    with gguf_file_writer(target, "imatrix") as writer:
        writer.add_type("imatrix")
        writer.add_array("imatrix.datasets", [str(Path(text).name) for text in texts])
        writer.add_uint32("imatrix.chunk_count", len(chunks))
        writer.add_uint32("imatrix.chunk_size", chunk_tokens)
        for name in sorted(sums):
            writer.add_tensor(name + IN_SUM2, sums[name].float().numpy())
            writer.add_tensor(name + COUNTS, np.array([counts[name]], dtype=np.float32))
    return target


def _chunks(
    texts: Sequence[str | os.PathLike], encode: Callable[[str], list[int]], bos: int, size: int
) -> list[list[int]]:
    chunks = []
    for text in texts:
        path = Path(text).expanduser()
        try:
            ids = encode(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise QuantizationError(f"cannot read `texts` file {str(path)!r} as UTF-8 text ({exc})") from None
        step = size - 1
        chunks += [[bos, *ids[i : i + step]] for i in range(0, len(ids) - step + 1, step)]
    return chunks

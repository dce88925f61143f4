"""What a GGUF file says about its checkpoint, as the config.json dict the RoPE planner reads."""

import math
import mmap
import os
import struct
from dataclasses import dataclass
from typing import Any

from zhllama.errors import ModelLoadError

_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GGUFHeader:
    """A GGUF file's metadata (scalars and strings; arrays, such as the vocabulary, are skipped)
    and its tensors as ``(name, ggml type number)``."""

    metadata: dict[str, Any]
    tensors: list[tuple[str, int]]


def read_header(path: str | os.PathLike) -> GGUFHeader:
    """The header of the GGUF ``path``, parsed without touching the tensor data.

    ``gguf.GGUFReader`` builds an object for each of the vocabulary's 55,296 pieces (seconds); this
    walks past arrays. Raises ``ModelLoadError`` for a file that is not a GGUF or is cut in its header.
    """
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse_header(data)
    except (OSError, ValueError, struct.error, UnicodeDecodeError) as exc:
        detail = (
            "its header is cut short" if isinstance(exc, struct.error) else f"{type(exc).__name__}: {exc}"
        )
        raise ModelLoadError(
            f"{str(path)!r} is not a readable GGUF file ({detail}): is it complete? "
            "Export it again (zhllama gguf export MODEL_DIR OUT.gguf)"
        ) from None


def _parse_header(data: Any) -> GGUFHeader:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    if data[:4] != b"GGUF":
        raise ValueError("GGUF magic invalid")
    version, tensor_count, kv_count = struct.unpack_from("<IQQ", data, 4)
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    offset = 24

    def string() -> str:
        nonlocal offset
        (length,) = struct.unpack_from("<Q", data, offset)
        if offset + 8 + length > len(data):
            raise ValueError("the header is cut short")
        offset += 8 + length
        return bytes(data[offset - length : offset]).decode("utf-8")

    def value(kind: int) -> Any:
        nonlocal offset
        if kind in _SCALARS:
            (item,) = struct.unpack_from(_SCALARS[kind], data, offset)
            offset += struct.calcsize(_SCALARS[kind])
            return item
        if kind == _STRING:
            return string()
        if kind == _ARRAY:
            item_kind, count = struct.unpack_from("<IQ", data, offset)
            offset += 12
            if item_kind in _SCALARS:
                offset += count * struct.calcsize(_SCALARS[item_kind])
            else:
                for _ in range(count):
                    value(item_kind)
            return None
        raise ValueError(f"unknown GGUF value type {kind}")

    metadata: dict[str, Any] = {}
    for _ in range(kv_count):
        key = string()
        (kind,) = struct.unpack_from("<I", data, offset)
        offset += 4
        item = value(kind)
        if item is not None:
            metadata[key] = item
    tensors = []
    end = 0
    for _ in range(tensor_count):
        name = string()
        (dims,) = struct.unpack_from("<I", data, offset)
        shape = struct.unpack_from(f"<{dims}Q", data, offset + 4)
        offset += 4 + 8 * dims
        kind, start = struct.unpack_from("<IQ", data, offset)
        offset += 12
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType(kind)]
        end = max(end, start + math.prod(shape) // block * size)
        tensors.append((name, kind))
    alignment = int(metadata.get("general.alignment", 32))
    needed = -(-offset // alignment) * alignment + end
    if len(data) < needed:
        raise ValueError(f"the file is cut short: {len(data)} of its {needed} bytes")
    return GGUFHeader(metadata, tensors)


def read_file_type(path: str | os.PathLike) -> int | None:
    """``general.file_type`` of a GGUF (0 f32, 1 f16, 15 Q4_K_M, ... llama.cpp's ``llama_ftype``)."""
    file_type = read_header(path).metadata.get("general.file_type")
    return None if file_type is None else int(file_type)


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """A config.json-like dict (``max_position_embeddings``, ``rope_theta``, ``head_dim``,
    ``rope_scaling``) from a ``llama`` GGUF's metadata, without loading its tensors."""
    metadata = read_header(path).metadata

    def value(key: str, default: Any = None) -> Any:
        return metadata.get(key, default)

    try:
        return _config(path, value)
    except (TypeError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise ModelLoadError(
            f"{str(path)!r} has metadata zhllama cannot read ({exc}): export it again"
        ) from exc


def _config(path: str | os.PathLike, value: Any) -> dict[str, Any]:
    arch = value("general.architecture")
    if arch != "llama":
        raise ModelLoadError(f"{str(path)!r} is a {arch!r} GGUF; zhllama plans RoPE for 'llama' models only")
    heads = int(value("llama.attention.head_count"))
    hidden = int(value("llama.embedding_length"))
    config: dict[str, Any] = {
        "model_type": "llama",
        "max_position_embeddings": int(value("llama.context_length")),
        "rope_theta": float(value("llama.rope.freq_base", 10000.0)),
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "head_dim": int(value("llama.rope.dimension_count", hidden // heads)),
    }
    scaling = value("llama.rope.scaling.type")
    if scaling in ("linear", "yarn"):
        entry: dict[str, Any] = {"type": scaling, "factor": float(value("llama.rope.scaling.factor"))}
        if scaling == "yarn":
            entry["original_max_position_embeddings"] = int(
                value("llama.rope.scaling.original_context_length")
            )
            entry["finetuned"] = True
        config["rope_scaling"] = entry
    return config

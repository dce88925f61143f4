"""Turn a pickled ``pytorch_model*.bin`` checkpoint into safetensors: ``convert_checkpoint``.

The family's checkpoints were published as PyTorch pickles; zhllama loads safetensors only, so that
no pickled code can run. Converting is the one place a pickle is opened, and it is opened with
``torch.load(..., weights_only=True, mmap=True)``: the unpickler builds tensors and plain
containers only and refuses any other global *before* calling it, so a file that tries to run code
is refused with nothing run. ``mmap=True`` leaves the tensors in the file; each is written out from
the mapped pages as it comes (``write_safetensors``), so converting holds no second copy of a shard:
the anonymous memory used is one tensor at most (only a non-contiguous one is copied), the rest
is page cache the kernel can drop.

One safetensors shard is written per input shard (``model.safetensors`` for a single file, else
``model-0000i-of-0000n.safetensors`` plus ``model.safetensors.index.json``), tensor names and dtypes
unchanged, so the converted model computes exactly what the original did. Every other file (config,
tokenizer, generation config, a sentence-transformers folder's module folders) is copied; other
pickles (``training_args.bin``, ``optimizer.pt``) are left behind and listed. A nested folder with
its own ``pytorch_model*.bin`` (a sentence-transformers module) is converted the same way. The
output folder appears whole or not at all.
"""

import json
import os
import pickle
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zhllama.errors import ModelLoadError

WEIGHTS_INDEX = "pytorch_model.bin.index.json"
SAFETENSORS_INDEX = "model.safetensors.index.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
"""Files that are (or may be) pickles: never copied into the converted folder."""

_SAFETENSORS_DTYPES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "bool": "BOOL",
}


@dataclass
class Conversion:
    """What ``convert_checkpoint`` wrote: the folder, its safetensors shards, how many tensors and
    bytes, and the pickles it left behind (relative paths)."""

    out_dir: Path
    shards: list[str] = field(default_factory=list)
    tensors: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)


def weight_shards(folder: Path) -> list[Path]:
    """The ``pytorch_model*.bin`` shards of ``folder``, in order (the index's files when it has one)."""
    index = folder / WEIGHTS_INDEX
    if index.is_file():
        from zhllama.core.files import read_json_object

        weight_map = read_json_object(index, ModelLoadError, "restore the checkpoint's index").get(
            "weight_map"
        )
        if not isinstance(weight_map, dict) or not weight_map:
            raise ModelLoadError(f"{index} has no `weight_map`: restore the checkpoint's index file")
        names = sorted(set(map(str, weight_map.values())))
        missing = [name for name in names if not (folder / name).is_file()]
        if missing:
            raise ModelLoadError(
                f"{index} lists {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not in "
                f"{str(folder)!r}: download the whole checkpoint"
            )
        return [folder / name for name in names]
    return sorted(folder.glob("pytorch_model*.bin"))


def convert_checkpoint(
    model_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    on_shard: Callable[[int, int], None] | None = None,
) -> Conversion:
    """Write ``model_dir``'s ``pytorch_model*.bin`` weights as safetensors into the new folder ``out_dir``.

    ``on_shard(done, total)`` is called after each input shard is written. Raises ``ModelLoadError`` for a
    missing folder, a folder with no ``pytorch_model*.bin`` (or one that already holds safetensors),
    an ``out_dir`` that exists and is not empty, a pickle that would run code (refused, nothing run),
    and a damaged shard.
    """
    source = Path(model_dir).expanduser()
    target = Path(out_dir).expanduser()
    if not source.is_dir():
        raise ModelLoadError(f"`model_dir` {str(source)!r} is not a folder: pass the checkpoint's folder")
    if not weight_shards(source):
        if any(source.glob("*.safetensors")):
            raise ModelLoadError(
                f"`model_dir` {str(source)!r} already holds *.safetensors weights: load it as it is"
            )
        raise ModelLoadError(
            f"`model_dir` {str(source)!r} holds no pytorch_model*.bin weights to convert: pass the folder "
            "of a PyTorch checkpoint (pytorch_model.bin, or pytorch_model-00001-of-0000N.bin and its index)"
        )
    if target.resolve() == source.resolve():
        raise ModelLoadError("`out_dir` must be a new folder, not `model_dir` itself")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ModelLoadError(f"`out_dir` {str(target)!r} exists and is not empty: choose a new folder")
    if not target.parent.is_dir():
        raise ModelLoadError(
            f"the folder {str(target.parent)!r} of `out_dir` does not exist: create it first"
        )

    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by an earlier run of this process id
    partial.mkdir()
    try:
        conversion = Conversion(out_dir=target)
        total = sum(len(weight_shards(folder)) for folder in (source, *source.rglob("*")) if folder.is_dir())

        def converted(_shard: Path) -> None:
            if on_shard is not None:
                on_shard(len(conversion.shards), total)

        _convert_folder(source, partial, Path(), conversion, converted)
        if target.exists():
            target.rmdir()
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return conversion


def _convert_folder(
    source: Path, out: Path, relative: Path, conversion: Conversion, on_shard: Callable[[Path], None]
) -> None:
    shards = weight_shards(source)
    converted = {*shards, source / WEIGHTS_INDEX}
    if shards:
        names = _output_names(len(shards))
        weight_map: dict[str, str] = {}
        total = 0
        for shard, name in zip(shards, names, strict=True):
            tensors = _load_shard(shard)
            total += write_safetensors(out / name, tensors)
            weight_map.update(dict.fromkeys(tensors, name))
            conversion.shards.append(str(relative / name))
            conversion.tensors += len(tensors)
            del tensors
            on_shard(shard)
        conversion.bytes += total
        if len(shards) > 1:
            index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
            (out / SAFETENSORS_INDEX).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    for entry in sorted(source.iterdir()):
        if entry in converted:
            continue
        if entry.is_dir():
            (out / entry.name).mkdir()
            _convert_folder(entry, out / entry.name, relative / entry.name, conversion, on_shard)
        elif entry.name.endswith(PICKLE_SUFFIXES):
            conversion.skipped.append(str(relative / entry.name))
        elif entry.is_file():
            shutil.copy2(entry, out / entry.name)


def _output_names(count: int) -> list[str]:
    if count == 1:
        return ["model.safetensors"]
    return [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]


def _load_shard(path: Path) -> dict[str, Any]:
    """The tensors of one shard, memory-mapped; a pickle that asks for anything else is refused."""
    import torch

    try:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            # saved in torch's pre-1.6 format, which cannot be mapped: read it whole (still weights only)
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelLoadError(
            f"{path} is a pickle that asks to run code when loaded ({_refused_global(exc)}): refused, "
            "nothing was run. Only convert checkpoints from a publisher you trust, from its own page"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError) as exc:
        raise ModelLoadError(
            f"cannot read {path} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): "
            "is the file complete? Download it again"
        ) from None
    if not isinstance(loaded, dict) or not all(
        isinstance(name, str) and isinstance(value, torch.Tensor) for name, value in loaded.items()
    ):
        kind = type(loaded).__name__
        raise ModelLoadError(
            f"{path} holds a {kind} that is not a flat state dict (name -> tensor): not a Hugging Face "
            "weights file; convert the state dict inside it with the tool that made it"
        )
    return loaded


def _refused_global(exc: Exception) -> str:
    """What the pickle wanted, from torch's weights-only error (without its advice to allow it)."""
    wanted = re.search(r"GLOBAL ([\w.]+)", str(exc))
    if wanted:
        return f"it calls {wanted.group(1)}"
    return (str(exc).splitlines() or [type(exc).__name__])[0].split(" Please ")[0].strip()


def write_safetensors(path: Path, tensors: dict[str, Any]) -> int:
    """Write ``tensors`` (name -> torch tensor) as the safetensors file ``path``, one tensor at a time.

    The format is an 8-byte little-endian header length, a JSON header (dtype, shape and byte range
    of each tensor, padded with spaces to 8 bytes) and the raw bytes. Written here rather than with
    ``safetensors.torch.save_file``, which first copies every tensor into one bytes object: that would
    hold a second copy of the shard. Returns the bytes of tensor data written.
    """
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name]
        dtype = str(tensor.dtype).removeprefix("torch.")
        if dtype not in _SAFETENSORS_DTYPES:
            raise ModelLoadError(f"tensor {name!r} has dtype {dtype}, which safetensors cannot store")
        size = tensor.numel() * tensor.element_size()
        header[name] = {
            "dtype": _SAFETENSORS_DTYPES[dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as handle:
        handle.write(len(encoded).to_bytes(8, "little"))
        handle.write(encoded)
        for chunk in _tensor_bytes(tensors):
            handle.write(chunk)
    return offset


def _tensor_bytes(tensors: dict[str, Any]) -> Iterator[memoryview]:
    """Each tensor's bytes in name order, as views of its (mapped) storage where it is contiguous."""
    import torch

    for name in sorted(tensors):
        tensor = tensors[name].contiguous()
        if tensor.numel():
            yield memoryview(tensor.reshape(-1).view(torch.uint8).numpy())

"""Peak memory of ``zhllama convert`` against transformers' own route, on the same pickled checkpoint.

Two checkpoints, each written with ``torch.save`` as ``pytorch_model-*.bin`` shards with their
index (the family's published layout):

- the tiny shared model (34 MiB), as the issue asks;
- a random Llama with the family's 55,296-piece vocabulary, hidden size 1024 and 8 layers (about
  0.42 GB in fp16, shards of at most ``--shard-mb``), so the memory a shard costs stands out from
  the interpreter's own.

Each conversion runs in a fresh process, sampled every 10 ms from ``/proc/PID/status``: peak resident
set (``VmHWM``), and its anonymous part (``RssAnon``: memory the process owns) and file-backed part
(``RssFile``: pages of the memory-mapped shard, which the kernel may drop at any time). The rows:
importing torch and zhllama.cli, as `zhllama convert` does (the floor), ``zhllama convert``, and transformers'
``from_pretrained(...).save_pretrained(...)`` (load the model, write safetensors).

    benchmarks/convert_memory.py [--shard-mb 200]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from process_memory import rss_mib

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(os.environ.get("ZHLLAMA_ASSETS", REPO.parent / "shared" / "assets")).resolve()

FLOOR = "import torch; from zhllama.cli import main"
TRANSFORMERS = (
    "import sys, torch; from transformers import AutoModelForCausalLM; "
    "AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype='auto', use_safetensors=False)"
    ".save_pretrained(sys.argv[2])"
)


def pickled_checkpoint(folder: Path, model: object, shard_mb: int) -> Path:
    """``model`` as ``pytorch_model-0000i-of-0000n.bin`` shards of at most ``shard_mb`` and their index
    (written with ``torch.save``: transformers 5's ``save_pretrained`` writes safetensors only)."""
    import torch

    folder.mkdir(parents=True)
    model.config.save_pretrained(folder)
    shards: list[dict] = [{}]
    size = 0
    for name, tensor in model.state_dict().items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > shard_mb * 2**20:
            shards.append({})
            size = 0
        shards[-1][name] = tensor.contiguous()
        size += nbytes
    weight_map = {}
    for number, shard in enumerate(shards, 1):
        file = f"pytorch_model-{number:05d}-of-{len(shards):05d}.bin"
        torch.save(shard, folder / file)
        weight_map.update(dict.fromkeys(shard, file))
    index = {"metadata": {}, "weight_map": weight_map}
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps(index), encoding="utf-8")
    return folder


def tiny(work: Path, shard_mb: int) -> Path:
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(ASSETS / "models" / "tiny-zh-llama", dtype=torch.bfloat16)
    folder = pickled_checkpoint(work / "tiny-bin", model, shard_mb)
    for name in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(ASSETS / "models" / "tiny-zh-llama" / name, folder / name)
    return folder


def random_llama(work: Path, shard_mb: int) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=55296, hidden_size=1024, intermediate_size=2752, num_hidden_layers=8,
        num_attention_heads=8, max_position_embeddings=4096, tie_word_embeddings=False,
    )  # fmt: skip
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    model = model.to_empty(device="cpu").to(torch.float16)
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.02)
    return pickled_checkpoint(work / "random-bin", model, shard_mb)


def peak_memory(command: list[str], env: dict) -> dict:
    """Run ``command``; its peak RSS and the peaks of its anonymous and file-backed parts, in MiB."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks = dict.fromkeys(("VmHWM", "RssAnon", "RssFile"), 0.0)
    while process.poll() is None:
        for key in peaks:
            peaks[key] = max(peaks[key], rss_mib(process.pid, key))
        time.sleep(0.01)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{command} failed: {process.stderr.read().decode()[-2000:]}")
    return peaks | {"seconds": seconds}


def measure(folder: Path, work: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    shards = sorted(folder.glob("pytorch_model*.bin"))
    rows = {
        "floor (import torch and zhllama.cli)": peak_memory([sys.executable, "-c", FLOOR], env),
        "zhllama convert": peak_memory(
            [
                sys.executable,
                "-c",
                "from zhllama.cli import main; main()",
                "convert",
                str(folder),
                str(work / f"{folder.name}-zh"),
            ],
            env,
        ),
        "transformers from_pretrained + save_pretrained": peak_memory(
            [sys.executable, "-c", TRANSFORMERS, str(folder), str(work / f"{folder.name}-hf")], env
        ),
    }
    return {
        "checkpoint": folder.name,
        "total_mib": sum(p.stat().st_size for p in shards) / 2**20,
        "largest_shard_mib": max(p.stat().st_size for p in shards) / 2**20,
        "shards": len(shards),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shard-mb", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zhllama-convert-"))
    results = [measure(tiny(work, 20), work), measure(random_llama(work, args.shard_mb), work)]
    print(json.dumps(results, indent=2), file=sys.stderr)
    print("| checkpoint | process | peak RSS | anonymous | file-backed | seconds |")
    print("|---|---|---|---|---|---|")
    for result in results:
        name = (
            f"{result['checkpoint']} ({result['total_mib']:.0f} MiB, {result['shards']} shards, "
            f"largest {result['largest_shard_mib']:.0f} MiB)"
        )
        for process, row in result["rows"].items():
            print(
                f"| {name} | {process} | {row['VmHWM']:.0f} MiB | {row['RssAnon']:.0f} MiB | "
                f"{row['RssFile']:.0f} MiB | {row['seconds']:.1f} |"
            )


if __name__ == "__main__":
    main()

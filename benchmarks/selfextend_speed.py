"""Speed and peak memory of grouped attention (``selfextend``) against YaRN, prefill and decode.

Claim measured (docs/long-context.md, "Grouped attention: speed and memory"): what grouped
attention costs per length in transformers (and, with ``--gguf``, in llama.cpp, where the prompt is
decoded one token at a time). Each (runtime, length, method) cell runs in a fresh process, so its
peak memory is its own: on CPU the process's peak RSS (the model's load included; the ``load only``
row is that baseline), on CUDA the peak allocated memory. Prefill is one forward over the prompt
(``length - decode`` tokens) into an empty cache; decode is ``--decode`` greedy steps after it.

    .venv/bin/python benchmarks/selfextend_speed.py [--lengths 1024,4096,16384] [--threads 1]
        [--device cpu|cuda] [--gguf tiny.gguf --gguf-lengths 1024,4096]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

ASSETS = Path(os.environ.get("ZHLLAMA_ASSETS", Path(__file__).resolve().parents[2] / "shared" / "assets"))
METHODS = ("yarn", "selfextend")


def _peak_mib(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prompt(length: int) -> list[int]:
    import torch

    return torch.randint(3, 32000, (length,), generator=torch.Generator().manual_seed(0)).tolist()


def transformers_cell(model_dir: str, length: int, method: str, decode: int, device: str) -> dict:
    """One cell in transformers: prefill seconds, decode tokens/s, peak memory."""
    import torch
    from transformers import DynamicCache

    import zhllama

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "load only":
            zhllama.load(model_dir, device=device)
            return {"peak_mib": _peak_mib(device)}
        model, _ = zhllama.load(model_dir, context=length, rope_method=method, device=device)
    ids = torch.tensor([_prompt(length)], device=device)
    prompt = length - decode
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    with torch.no_grad():
        cache = DynamicCache(config=model.config)
        started = time.perf_counter()
        logits = model(ids[:, :prompt], past_key_values=cache, logits_to_keep=1).logits
        sync()
        prefill = time.perf_counter() - started
        token = logits[:, -1:].argmax(-1)
        started = time.perf_counter()
        for _ in range(decode):
            token = model(token, past_key_values=cache).logits[:, -1:].argmax(-1)
        sync()
        stepping = time.perf_counter() - started
    return {"prefill_s": prefill, "decode_tok_s": decode / stepping, "peak_mib": _peak_mib(device)}


def llama_cpp_cell(gguf: str, length: int, method: str, decode: int, threads: int) -> dict:
    """One cell in llama.cpp (zhllama's backend): prefill seconds, decode tokens/s, peak RSS."""
    from zhllama.backends import LlamaCppBackend

    method = "dynamic_yarn" if method == "yarn" else method  # plain checkpoint: YaRN at the target factor
    backend = LlamaCppBackend.from_gguf(gguf, context=length, rope_method=method, n_threads=threads)
    llama, prompt = backend.llama, _prompt(length - decode)
    started = time.perf_counter()
    llama.reset()
    llama.eval(prompt)
    prefill = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(decode):
        llama.eval([int(llama.sample(temp=0.0))])
    stepping = time.perf_counter() - started
    return {"prefill_s": prefill, "decode_tok_s": decode / stepping, "peak_mib": _peak_mib("cpu")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ASSETS / "models" / "tiny-zh-llama"))
    parser.add_argument("--lengths", default="1024,2048,4096,16384")
    parser.add_argument("--decode", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--gguf", default=None, help="also measure llama.cpp on this GGUF of the model")
    parser.add_argument("--gguf-lengths", default="1024,4096")
    parser.add_argument("--cell", default=None, help=argparse.SUPPRESS)  # runtime,length,method
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if args.cell:
        runtime, length, method = args.cell.split(",")
        if runtime == "transformers":
            out = transformers_cell(args.model, int(length), method, args.decode, args.device)
        else:
            out = llama_cpp_cell(args.gguf, int(length), method, args.decode, args.threads)
        print(json.dumps(out))
        return

    cells = [("transformers", 0, "load only")]
    cells += [("transformers", int(n), m) for n in args.lengths.split(",") for m in METHODS]
    if args.gguf:
        cells += [("llama.cpp", int(n), m) for n in args.gguf_lengths.split(",") for m in METHODS]
    print(f"device {args.device}, {args.threads} thread(s), decode {args.decode} tokens after the prompt")
    print("| runtime | L | method | prefill s | decode tok/s | peak MiB | load avg (1 min) |")
    print("|---|---|---|---|---|---|---|")
    for runtime, length, method in cells:
        command = [sys.executable, __file__, "--cell", f"{runtime},{length},{method}"]
        for flag in ("model", "decode", "threads", "device", "gguf"):
            value = getattr(args, flag)
            if value is not None:
                command += [f"--{flag}", str(value)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        out = json.loads(done.stdout.strip().splitlines()[-1])
        load = os.getloadavg()[0]
        prefill = f"{out['prefill_s']:.2f}" if "prefill_s" in out else "—"
        speed = f"{out['decode_tok_s']:.1f}" if "decode_tok_s" in out else "—"
        cells_text = f"{prefill} | {speed} | {out['peak_mib']:.0f} | {load:.1f}"
        print(f"| {runtime} | {length or '—'} | {method} | {cells_text} |", flush=True)


if __name__ == "__main__":
    main()

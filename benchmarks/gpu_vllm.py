"""vLLM on a GPU with each RoPE plan: serve, chat in Chinese, and measure long-context perplexity.

For each plan of the tiny shared model at 4x its trained context (256 -> 1024 tokens) this starts
``vllm serve`` with exactly the flags ``zhllama vllm args`` prints (zhllama's plugin loads from its
entry point in every vLLM process), sends concurrent Chinese chat requests to
``/v1/chat/completions``, reads prompt logprobs from ``/v1/completions`` over held-out novel
windows of the served length, and prints a table beside transformers' perplexity on the same
token windows (``zhllama.load(context=1024, rope_method=...)``). Run it from
``benchmarks/gpu_vllm.sh``; it needs .venv-vllm and the assets, no network.
"""

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(os.environ.get("ZHLLAMA_ASSETS", REPO.parent / "shared" / "assets")).resolve()
METHODS = ("auto", "dynamic_yarn", "yarn", "linear", "ntk")
HELD_OUT = {"三国演义": 553_661, "水浒传": 806_915, "红楼梦": 794_850, "西游记": 616_337}
"""Where each novel's held-out text starts (characters), from the tiny model's TRAINING.md."""
QUESTIONS = (
    "请用三句话介绍一下《西游记》。",
    "续写下面的文字：话说天下大势，分久必合，合久必分。",
    "林黛玉是一个怎样的人？",
    "写一首关于秋天的七言绝句。",
)


def windows(tokenizer, length: int, per_novel: int) -> list[list[int]]:
    """``per_novel`` windows of ``length`` ids (BOS first) from each novel's held-out text."""
    out = []
    for name, start in HELD_OUT.items():
        text = (ASSETS / "corpus" / f"novel_{name}.txt").read_text(encoding="utf-8")[start:]
        ids = tokenizer.encode(text, add_special_tokens=False)
        step = length - 1
        for index in range(per_novel):
            chunk = ids[index * step : (index + 1) * step]
            if len(chunk) == step:
                out.append([tokenizer.bos_token_id, *chunk])
    return out


def perplexity(nll_per_window: list[list[float]], last: int = 255) -> tuple[float, float]:
    """(all positions, last ``last`` positions) perplexity over windows of per-token NLLs."""
    every = [value for window in nll_per_window for value in window]
    tail = [value for window in nll_per_window for value in window[-last:]]
    return math.exp(sum(every) / len(every)), math.exp(sum(tail) / len(tail))


def post(url: str, body: dict, timeout: float = 120) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(base: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"vllm serve exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"vllm serve not ready after {timeout:.0f}s")


def vllm_run(settings, template_file: Path, texts: list[list[int]], args) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = settings.serve_args(template_file)[1:]  # without the leading "vllm": run its module
    command = [sys.executable, "-m", "vllm.entrypoints.cli.main", *command]
    command += ["--port", str(port), "--gpu-memory-utilization", "0.3", "--served-model-name", "tiny"]
    if args.enforce_eager:
        command.append("--enforce-eager")
    log = open(args.workdir / f"serve-{settings.rope_plan.method}.log", "w")  # noqa: SIM115
    env = {**os.environ, "VLLM_PLUGINS": os.environ.get("VLLM_PLUGINS", "zhllama_rope")}
    started = time.time()
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(base, process, args.start_timeout)
        startup = time.time() - started

        def chat(index: int) -> int:
            question = QUESTIONS[index % len(QUESTIONS)]
            body = {"model": "tiny", "messages": [{"role": "user", "content": question}], "max_tokens": 128}
            reply = post(f"{base}/v1/chat/completions", body | {"ignore_eos": True})
            return reply["usage"]["completion_tokens"]

        sample = post(
            f"{base}/v1/chat/completions",
            {
                "model": "tiny",
                "messages": [{"role": "user", "content": QUESTIONS[1]}],
                "max_tokens": 48,
                "temperature": 0,
            },
        )
        began = time.time()
        with ThreadPoolExecutor(args.concurrency) as pool:
            generated = sum(pool.map(chat, range(args.requests)))
        tokens_per_s = generated / (time.time() - began)

        nll = []
        for ids in texts:
            body = {"model": "tiny", "prompt": ids, "max_tokens": 1, "prompt_logprobs": 0, "temperature": 0}
            choice = post(f"{base}/v1/completions", body)["choices"][0]
            entries = choice["prompt_logprobs"][1:]  # the first token has no prediction
            nll.append([-entry[str(token)]["logprob"] for entry, token in zip(entries, ids[1:], strict=True)])
        return {
            "startup_s": startup,
            "tokens_per_s": tokens_per_s,
            "ppl": perplexity(nll),
            "sample": sample["choices"][0]["message"]["content"],
        }
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def transformers_ppl(folder: Path, method: str, context: int, texts: list[list[int]]) -> tuple[float, float]:
    import torch

    import zhllama

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, _ = zhllama.load(folder, dtype="bfloat16", device="cuda", context=context, rope_method=method)
    nll = []
    with torch.no_grad():
        for ids in texts:
            batch = torch.tensor([ids], device="cuda")
            logits = model(batch).logits[0, :-1].float()
            losses = torch.nn.functional.cross_entropy(logits, batch[0, 1:], reduction="none")
            nll.append(losses.tolist())
    del model
    torch.cuda.empty_cache()
    return perplexity(nll)


def main() -> int:
    from zhllama.adapters.vllm.serving import serve_settings
    from zhllama.core.tokenizer import load_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--windows-per-novel", type=int, default=4)
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--start-timeout", type=float, default=150)
    parser.add_argument("--enforce-eager", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    args.workdir = Path(tempfile.mkdtemp(prefix="gpu_vllm_"))

    from zhllama.core.tokenizer.runtime_check import fixed_copy

    folder = fixed_copy(ASSETS / "models" / "tiny-zh-llama", args.workdir / "tiny-zh-llama")
    texts = windows(load_tokenizer(folder), args.context, args.windows_per_novel)
    print(f"tiny-zh-llama at {args.context} tokens; {len(texts)} held-out windows; logs in {args.workdir}")
    rows, failures = [], 0
    for method in args.methods.split(","):
        settings = serve_settings(folder, args.context, method=method)
        template_file = settings.write_chat_template(args.workdir / f"{method}.jinja")
        rope_type = settings.hf_overrides["rope_parameters"]["rope_type"]
        try:
            served = vllm_run(settings, template_file, texts, args)
        except Exception as exc:  # report every plan, then fail at the end
            failures += 1
            print(f"{method}: vLLM failed: {exc} (see {args.workdir}/serve-{method}.log)", flush=True)
            continue
        reference = transformers_ppl(folder, method, args.context, texts)
        rows.append((method, rope_type, served, reference))
        print(f"{method}: {json.dumps(served, ensure_ascii=False)} transformers ppl {reference}", flush=True)

    print()
    print("| plan | vLLM rope_type | startup s | chat tokens/s | ppl vLLM all / last | ppl HF all / last |")
    print("|---|---|---|---|---|---|")
    for method, rope_type, served, reference in rows:
        ours, theirs = served["ppl"], reference
        print(
            f"| {method} | {rope_type} | {served['startup_s']:.0f} | {served['tokens_per_s']:.0f} | "
            f"{ours[0]:.1f} / {ours[1]:.1f} | {theirs[0]:.1f} / {theirs[1]:.1f} |"
        )
    bad = [m for m, _, served, ref in rows if abs(math.log(served["ppl"][0] / ref[0])) > 0.05]
    if bad:
        print(f"vLLM and transformers disagree by more than 5% in perplexity for: {', '.join(bad)}")
    return 1 if failures or bad else 0


if __name__ == "__main__":
    sys.exit(main())

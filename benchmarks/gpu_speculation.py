"""Speculative decoding on a GPU: vLLM (``zhllama vllm args --draft``) and transformers, with a draft.

For ``--target`` (default: the tiny shared model) and ``--draft`` (default: its first layer, cut by
``derive_draft``; on a real machine: ``--target chinese-alpaca-2-7b --draft chinese-alpaca-2-1.3b``,
the seed's 1.37-1.61x case), each configuration runs in its own process:

- vLLM offline (``vllm.LLM`` with ``serve_settings(...).llm_kwargs()``): no speculation, ``ngram``
  (prompt lookup), the draft model; acceptance from vLLM's ``spec_decode`` counters;
- transformers on CUDA (``TransformersBackend``): no speculation, ``lookup``, the draft model;
  acceptance from its candidate generators (``benchmarks/speculation.py``'s counter).

Prompts are upstream's stuff QA prompt over CMRC paragraphs and four continuations in the Alpaca-2
template (to vLLM as zhllama's exact prompt ids), decoded greedily without repetition penalty. The
script fails when a speculative run's replies differ from the same runtime's run without
speculation. Run it from ``benchmarks/gpu_speculation.sh`` (.venv-vllm); ``--device cpu
--configs hf:none,hf:lookup,hf:draft`` is a dry run of the transformers half on any machine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
ASSETS = Path(os.environ.get("ZHLLAMA_ASSETS", REPO.parent / "shared" / "assets")).resolve()
CONFIGS = ("vllm:none", "vllm:ngram", "vllm:draft", "hf:none", "hf:lookup", "hf:draft")


def prompts(questions: int) -> list[str]:
    """``questions`` stuff-QA prompts (prompt lookup's case) and the continuations (the draft's)."""
    from speculation import CONTINUATIONS, qa_prompts

    return [*qa_prompts(questions), *CONTINUATIONS]


def run_vllm(how: str, args: argparse.Namespace, texts: list[str]) -> dict:
    """Greedy replies as token ids, sent as the template's prompt ids (zhllama's exact tokenizer)."""
    from vllm import LLM, SamplingParams

    from zhllama.adapters.vllm.serving import serve_settings
    from zhllama.backends.base import encode_prompt
    from zhllama.core.tokenizer import load_tokenizer

    draft = {"none": None, "ngram": "ngram", "draft": str(args.draft)}[how]
    settings = serve_settings(
        args.target, args.context, draft=draft, speculative_tokens=args.speculative_tokens
    )
    kwargs = settings.llm_kwargs()
    kwargs.pop("chat_template")
    llm = LLM(**kwargs, gpu_memory_utilization=0.4, enforce_eager=True, disable_log_stats=False)
    sampling = SamplingParams(temperature=0.0, max_tokens=args.tokens, repetition_penalty=1.0)
    tokenizer = load_tokenizer(args.target)
    ids = [encode_prompt(tokenizer, [{"role": "user", "content": text}], "alpaca-2") for text in texts]
    requests = [{"prompt_token_ids": prompt} for prompt in ids]
    llm.generate(requests[:1], sampling, use_tqdm=False)  # warm up
    started = time.perf_counter()
    outputs = llm.generate(requests, sampling, use_tqdm=False)
    seconds = time.perf_counter() - started
    replies = [list(output.outputs[0].token_ids) for output in outputs]
    counters = {}
    try:
        for metric in llm.get_metrics():
            if metric.name in ("vllm:spec_decode_num_draft_tokens", "vllm:spec_decode_num_accepted_tokens"):
                counters[metric.name.rsplit("_num_", 1)[1]] = getattr(metric, "value", None)
    except AttributeError:  # a vLLM without LLM.get_metrics
        pass
    proposed, accepted = counters.get("draft_tokens"), counters.get("accepted_tokens")
    return {
        "replies": replies,
        "tps": sum(map(len, replies)) / seconds,
        "proposed": proposed,
        "accepted": accepted,
    }


def run_transformers(how: str, args: argparse.Namespace, texts: list[str]) -> dict:
    """Greedy replies through ``TransformersBackend.complete``, as ``--lookup``/``--draft`` run them."""
    import torch
    from speculation import TransformersCounter

    from zhllama.backends import TransformersBackend
    from zhllama.core.sampling import Sampling

    options = {"none": {}, "lookup": {"lookup": args.speculative_tokens}, "draft": {"draft": args.draft}}[how]
    dtype = "float16" if args.device == "cuda" else "float32"
    backend = TransformersBackend.from_pretrained(args.target, dtype=dtype, device=args.device, **options)
    sampling = Sampling(repetition_penalty=1.0, max_new_tokens=args.tokens)
    ask = [{"role": "user", "content": texts[0]}]
    backend.complete(ask, sampling=Sampling(max_new_tokens=4), greedy=True)  # warm up
    replies, generated, started = [], 0, time.perf_counter()
    with TransformersCounter() as counter, torch.inference_mode():
        for text in texts:
            reply = backend.complete([{"role": "user", "content": text}], sampling=sampling, greedy=True)
            replies.append([reply.text, reply.completion_tokens])
            generated += reply.completion_tokens
    seconds = time.perf_counter() - started
    return {
        "replies": replies,
        "tps": generated / seconds,
        "proposed": counter.proposed or None,
        "accepted": counter.accepted if counter.proposed else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", type=Path, default=None, help="[default: the tiny shared model]")
    parser.add_argument("--draft", type=Path, default=None, help="[default: the target's first layer]")
    parser.add_argument("--context", type=int, default=None, help="[default: the target's trained length]")
    parser.add_argument("--tokens", type=int, default=64, help="Per reply (the tiny model holds 256 in all).")
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--speculative-tokens", type=int, default=4)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--device", default="cuda", help="For the transformers runs (cpu: a dry run).")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        runtime, how = args.one.split(":")
        result = (run_vllm if runtime == "vllm" else run_transformers)(how, args, prompts(args.questions))
        print("RESULT " + json.dumps(result))
        return 0

    from zhllama.checkpoints.draft import derive_draft
    from zhllama.core.model_config import read_model_config
    from zhllama.core.rope_scaling import describe
    from zhllama.core.tokenizer.runtime_check import fixed_copy

    work = Path(tempfile.mkdtemp(prefix="gpu_speculation_"))
    if args.target is None:
        args.target = fixed_copy(ASSETS / "models" / "tiny-zh-llama", work / "tiny-zh-llama")
    if args.draft is None:
        args.draft = derive_draft(args.target, work / "draft", layers=1)
    args.context = args.context or describe(read_model_config(args.target)).trained_length
    print(f"target {args.target}, draft {args.draft}, context {args.context}; logs in {work}", flush=True)
    results, failures = {}, 0
    for config in args.configs.split(","):
        options = {"--target": args.target, "--draft": args.draft, "--context": args.context}
        options |= {"--tokens": args.tokens, "--questions": args.questions}
        options |= {"--speculative-tokens": args.speculative_tokens, "--device": args.device}
        command = [
            sys.executable,
            __file__,
            "--one",
            config,
            *(str(v) for item in options.items() for v in item),
        ]
        log = work / f"{config.replace(':', '-')}.log"
        with log.open("w") as handle:
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=handle, text=True, timeout=900)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode != 0 or not lines:
            failures += 1
            print(f"{config}: failed (see {log})", flush=True)
            continue
        results[config] = json.loads(lines[-1].removeprefix("RESULT "))
        print(f"{config}: {results[config]['tps']:.1f} tokens/s", flush=True)

    print(f"\n{args.target} with draft {args.draft}, {args.tokens} tokens per reply, {args.device}")
    print("\n| runtime | speculation | acceptance | tokens/s | vs none | same greedy tokens |")
    print("|---|---|---|---|---|---|")
    for config, result in results.items():
        runtime = config.split(":")[0]
        plain = results.get(f"{runtime}:none")
        same = plain is not None and result["replies"] == plain["replies"]
        failures += 0 if same or plain is None else 1
        rate = f"{result['accepted'] / result['proposed']:.0%}" if result["proposed"] else "—"
        speed = f"{result['tps'] / plain['tps']:.2f}x" if plain else "—"
        verdict = "yes" if same else "NO"
        print(f"| {runtime} | {config.split(':')[1]} | {rate} | {result['tps']:.1f} | {speed} | {verdict} |")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

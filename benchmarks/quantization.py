"""The seed's quantization table on the tiny model: type, file size, held-out perplexity, speed.

For each type this exports the tiny model (f32, f16 with zhllama's writer) or quantizes the f32 export
with llama.cpp's own quantizer (``zhllama gguf quantize``), then measures, in the same run:

- held-out perplexity through ``zhllama eval ppl``'s code path (``run_perplexity``), llama.cpp on
  the GGUF, on TRAINING.md's whole set: the last 40,000 tokens of each novel in 256-token windows;
- prompt and generation tokens/s in llama.cpp on ``--threads`` threads (a 255-token prompt decoded
  in one batch; 64 greedy tokens one at a time, as ``llama-bench``'s pp and tg do), the best of
  ``--speed-rounds`` rounds in which the types take turns;
- transformers fp32 and bf16 on the same windows (``--transformers``).

Each row (a type on some of the novels, ``--novels``) is appended to ``--results`` (JSON lines) as it
finishes, so a long run can be split into commands of a few minutes on a slow machine; ``--report``
pools each type's rows (negative log-likelihoods summed over every prediction) into the table and
marks a type not yet measured on all four novels; ``--skip-ppl`` measures only the speeds.

    benchmarks/quantization.py --types f32,f16,q8_0 --transformers
    benchmarks/quantization.py --types q6_k,q5_k_m,q4_k_m,q4_0,q3_k_m,q2_k --novels 0,1
    benchmarks/quantization.py --report
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(os.environ.get("ZHLLAMA_ASSETS", REPO.parent / "shared" / "assets")).resolve()
MODEL = ASSETS / "models" / "tiny-zh-llama"
NOVELS = sorted((ASSETS / "corpus").glob("novel_*.txt"))
HELD_OUT_TOKENS = 40_000
"""TRAINING.md: the last 40,000 SentencePiece tokens of each novel were held out."""
PROMPT = "续写下面的文字：话说天下大势，分久必合，合久必分。周末七国分争，并入于秦。" * 6


MAX_WINDOWS: int | None = None
"""Windows per novel (``--max-windows``, for a quick try); the table uses all of them."""


def held_out_ppl(model: Path, novels: list[Path], **options) -> dict:
    """The held-out perplexity of ``model`` on ``novels``, with what it takes to pool it with others."""
    import math

    from zhllama.evaluation import run_perplexity

    result = run_perplexity(
        model,
        novels,
        [256],
        ["none"],
        tail_tokens=HELD_OUT_TOKENS,
        max_windows_per_file=MAX_WINDOWS,
        **options,
    )
    row = result.rows[0]
    return {
        "novels": [path.name for path in novels],
        "ppl": row.ppl_all,
        "nll": math.log(row.ppl_all) * row.predictions,
        "windows": row.windows,
        "predictions": row.predictions,
        "ppl_seconds": row.seconds,
    }


class SpeedProbe:
    """Prompt (one batch of 255 tokens) and generation (one token at a time) tokens/s of one GGUF,
    the best seen over every ``measure`` call."""

    def __init__(self, path: Path, threads: int, generate: int = 64) -> None:
        from zhllama.backends import LlamaCppBackend

        backend = LlamaCppBackend.from_gguf(path, n_threads=threads, n_batch=256)
        self.llama, self.generate = backend.llama, generate
        self.ids = [self.llama.token_bos(), *backend.tokenizer(PROMPT)["input_ids"]][:255]
        self.best = {"prompt_tps": 0.0, "generation_tps": 0.0}

    def measure(self) -> None:
        import numpy as np

        llama, ids = self.llama, self.ids
        llama.reset()
        started = time.perf_counter()
        llama.eval(ids)
        prompt_tps = len(ids) / (time.perf_counter() - started)
        llama.reset()
        llama.eval(ids[:16])
        started = time.perf_counter()
        for _ in range(self.generate):
            llama.eval([int(np.argmax(llama.scores[llama.n_tokens - 1]))])
        generation_tps = self.generate / (time.perf_counter() - started)
        self.best["prompt_tps"] = max(self.best["prompt_tps"], prompt_tps)
        self.best["generation_tps"] = max(self.best["generation_tps"], generation_tps)


def llama_cpp_speeds(paths: dict[str, Path], threads: int, rounds: int) -> list[dict]:
    """Each type's best speeds over ``rounds`` rounds, the types taking turns within each round: on a
    shared machine, load that comes and goes then falls on every type alike."""
    probes = {quant: SpeedProbe(path, threads) for quant, path in paths.items()}
    for _ in range(rounds):
        for probe in probes.values():
            probe.measure()
    return [{"type": quant, **probe.best} for quant, probe in probes.items()]


def gguf_file(quant: str, work: Path, threads: int) -> tuple[Path, list[str]]:
    """The tiny model's GGUF of type ``quant`` (made once per work folder) and llama.cpp's fallbacks."""
    from zhllama.checkpoints.gguf import export_gguf
    from zhllama.checkpoints.gguf.quantize import quantize_gguf

    f32 = work / "tiny.f32.gguf"
    if not f32.exists():
        export_gguf(MODEL, f32, dtype="f32")
    path = work / f"tiny.{quant}.gguf"
    notes = work / f"tiny.{quant}.fallbacks.json"
    if quant == "f32":
        return f32, []
    if not path.exists():
        if quant == "f16":
            export_gguf(MODEL, path, dtype="f16")
            notes.write_text("[]")
        else:
            notes.write_text(json.dumps(quantize_gguf(f32, path, quant, threads=threads).fallbacks))
    return path, json.loads(notes.read_text())


def measure_type(quant: str, work: Path, threads: int, novels: list[Path]) -> dict:
    from zhllama.checkpoints.gguf.quantize import tensor_types

    path, fallbacks = gguf_file(quant, work, threads)
    row = {"type": quant, "bytes": path.stat().st_size, "tensors": tensor_types(path), "fallbacks": fallbacks}
    return row | held_out_ppl(path, novels, threads=threads)


def pooled(rows: list[dict]) -> dict:
    """One row per type: its rows' fields, perplexity pooled over every prediction of their novels."""
    import math

    types: dict[str, dict] = {}
    for row in rows:
        kind = row.get("type") or f"transformers {row['dtype']}"
        merged = types.setdefault(kind, {"novels": set(), "nll": 0.0, "predictions": 0, "windows": 0})
        for key, value in row.items():
            if key in ("nll", "predictions", "windows"):
                merged[key] += value
            elif key == "novels":
                merged["novels"] |= set(value)
            else:
                merged.setdefault(key, value)
    for merged in types.values():
        if merged["predictions"]:
            merged["ppl"] = math.exp(merged["nll"] / merged["predictions"])
    return types


def report(rows: list[dict]) -> str:
    types = {kind: row for kind, row in pooled(rows).items() if "ppl" in row}
    base = types.get("f16") or types.get("f32")
    lines = [
        "| type | file | tensors | held-out PPL | vs F16 | prompt tok/s | gen tok/s | gen vs F16 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, row in types.items():
        partial = (
            "" if len(row["novels"]) == len(NOVELS) else f" (on {len(row['novels'])} of {len(NOVELS)} novels)"
        )
        ppl = f"{row['ppl']:.2f}{partial}"
        if "bytes" not in row:
            lines.append(
                f"| {kind} | — | — | {ppl} | {(row['ppl'] / base['ppl'] - 1) * 100:+.2f}% | — | — | — |"
            )
            continue
        tensors = ", ".join(f"{n} {name}" for name, n in row["tensors"].items())
        speeds = "| — | — | — |"
        if "generation_tps" in row and "generation_tps" in base:
            ratio = row["generation_tps"] / base["generation_tps"]
            speeds = f"| {row['prompt_tps']:.0f} | {row['generation_tps']:.1f} | {ratio:.2f}x |"
        lines.append(
            f"| {kind} | {row['bytes'] / 2**20:.1f} MiB | {tensors} | {ppl} | "
            f"{(row['ppl'] / base['ppl'] - 1) * 100:+.2f}% {speeds}"
        )
    counts = {(row["windows"], row["predictions"]) for row in types.values()}
    loads = [row["load"] for row in rows if "load" in row]
    footer = f"\n\nwindows, predictions per type: {sorted(counts)}"
    if loads:
        footer += f"; 1-minute load average as rows finished: {min(loads):.1f}-{max(loads):.1f}"
    return "\n".join(lines) + footer


def read_rows(results: Path) -> list[dict]:
    return [json.loads(line) for line in results.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--types", default="f32,f16,q8_0,q6_k,q5_k_m,q4_k_m,q4_0,q3_k_m,q2_k")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--transformers", action="store_true", help="Also transformers fp32 and bf16.")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/zhllama-quantization"))
    parser.add_argument("--results", type=Path, default=None, help="[default: WORKDIR/results.jsonl]")
    parser.add_argument("--report", action="store_true", help="Print the table of the results so far.")
    parser.add_argument("--max-windows", type=int, default=None, help="Windows per novel (a quick try).")
    parser.add_argument("--novels", default=None, help="Indices of the novels to use [default: all four].")
    parser.add_argument("--speed-rounds", type=int, default=5, help="Rounds of speed measurement (0: none).")
    parser.add_argument("--skip-ppl", action="store_true", help="Measure the speeds only.")
    args = parser.parse_args()
    global MAX_WINDOWS
    MAX_WINDOWS = args.max_windows
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = args.results or args.workdir / "results.jsonl"
    if args.report:
        print(report(read_rows(results)))
        return
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    novels = [NOVELS[int(i)] for i in args.novels.split(",")] if args.novels else NOVELS

    def keep(row: dict) -> None:
        row["load"] = os.getloadavg()[0]  # the machine is shared: what else ran shows here
        print(json.dumps(row), file=sys.stderr)
        with results.open("a") as handle:
            handle.write(json.dumps(row) + "\n")

    quants = [part.strip() for part in args.types.split(",") if part.strip()]
    if args.transformers and not args.skip_ppl:
        for dtype in ("float32", "bfloat16"):
            keep({"dtype": dtype, **held_out_ppl(MODEL, novels, dtype=dtype)})
    if not args.skip_ppl:
        for quant in quants:
            keep(measure_type(quant, args.workdir, args.threads, novels))
    if args.speed_rounds:
        paths = {quant: gguf_file(quant, args.workdir, args.threads)[0] for quant in quants}
        for row in llama_cpp_speeds(paths, args.threads, args.speed_rounds):
            keep(row)
    print(report(read_rows(results)))


if __name__ == "__main__":
    main()

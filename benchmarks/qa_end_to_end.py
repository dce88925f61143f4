"""End-to-end document QA timings: retrieval + prompt + generation, per backend (docs/docqa.md).

A store is built in a temporary folder from docs/examples plus the first ``--paragraphs`` CMRC
trial paragraphs (one file each, the default ingest), then the first ``--questions`` CMRC questions
of those paragraphs go through ``answer_question`` exactly as ``zhllama qa ask`` runs them (default
k, auto chain, upstream sampling made greedy for repeatability). Reported per backend: the median
time to first token (question in, first answer text out, retrieval included) and the median total
time per question, and how often the top source is the question's paragraph. Backends: the tiny
model through transformers, and through llama.cpp from a GGUF that ``export_gguf`` writes into the
cache folder (outside the repository); a backend that cannot run offline is reported and skipped.

Usage: python benchmarks/qa_end_to_end.py [--model DIR] [--paragraphs 20] [--questions 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qa_sets import load_cmrc

from zhllama.docqa.answer import answer_question
from zhllama.docqa.ingest import ingest
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.runner import PromptRunner
from zhllama.docqa.splitting import SplitSettings, token_counter
from zhllama.docqa.store import Store
from zhllama.locations import assets_dir, default_model_dir

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def backends(model: Path, cache: Path):
    """``(name, loader)`` pairs; each loader returns a backend or raises with why it cannot."""
    from zhllama.backends import LlamaCppBackend, TransformersBackend

    def gguf():
        from zhllama.checkpoints.gguf import export_gguf

        out = cache / f"{model.name}.f32.gguf"
        if not out.is_file():
            export_gguf(model, out)
        return LlamaCppBackend.from_gguf(out, n_threads=2)

    return [("transformers", lambda: TransformersBackend.from_pretrained(model)), ("llama.cpp", gguf)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=default_model_dir())
    parser.add_argument("--assets", type=Path, default=assets_dir())
    parser.add_argument("--paragraphs", type=int, default=20)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "zhllama" / "bench")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    qa = load_cmrc(args.assets)
    paragraphs = qa.paragraphs[: args.paragraphs]
    questions = [q for q in qa.questions if q.paragraph < args.paragraphs][: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        for example in EXAMPLES.iterdir():
            (docs / example.name).write_bytes(example.read_bytes())
        for i, text in enumerate(paragraphs):
            (docs / f"cmrc{i:03d}.txt").write_text(text, encoding="utf-8")
        count, tokenizer_id = token_counter(args.model)
        store = Store(db=Path(tmp) / "db")
        ingest([docs], store, count, SplitSettings(tokenizer_id=tokenizer_id))
        retriever = Retriever(store)
        print(f"model {args.model}; store: {store.count()} chunks; {len(questions)} CMRC questions\n")
        print(
            "| backend | context | answer tokens | time to first token (median) "
            "| total per question (median) | top source right |"
        )
        print("|---|---|---|---|---|---|")
        for name, load in backends(args.model, args.cache):
            try:
                backend = load()
            except Exception as exc:  # report and go on: the table says which backends ran
                print(f"| {name} | — | — | not run: {exc} | | |")
                continue
            runner = PromptRunner(backend, greedy=True)
            answer_question(questions[0].text, retriever, runner)  # warm-up
            first, total, right = [], [], 0
            for q in questions:
                started = time.perf_counter()
                answer = answer_question(q.text, retriever, runner)
                total.append(time.perf_counter() - started)
                first.append(answer.timings["first_token_s"] or total[-1])
                right += bool(answer.sources) and answer.sources[0].source.endswith(
                    f"cmrc{q.paragraph:03d}.txt"
                )
            print(
                f"| {name} | {backend.context_window} | {runner.answer_tokens} | "
                f"{statistics.median(first) * 1000:.0f} ms | {statistics.median(total) * 1000:.0f} ms | "
                f"{right}/{len(questions)} |"
            )


if __name__ == "__main__":
    main()

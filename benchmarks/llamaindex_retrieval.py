"""LlamaIndex retrieval over the docqa store, next to docqa's own numbers (docs/docqa.md has the table).

Every CMRC 2018 trial paragraph is a document ingested through the real pipeline (as
benchmarks/retrieval.py does); every question is a query; chunk hits map back to their paragraph.
Rows: docqa's ``Retriever`` (the shipped default), the same through LlamaIndex
(``DocQARetriever``), and LlamaIndex's plain ``ChromaVectorStore`` retrieval over the same collection
(its vectors are the store's 64-dim hashed bigrams, a placeholder, so it is expected to be poor).

Usage: python benchmarks/llamaindex_retrieval.py [--assets DIR]
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
from retrieval import metrics, row

from zhllama.adapters.llamaindex import DocQARetriever, chroma_vector_retriever
from zhllama.docqa import tokenizer_path
from zhllama.docqa.ingest import ingest
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.splitting import SplitSettings, token_counter
from zhllama.docqa.store import Store

K = 30


def timed(search, questions: list[str]) -> tuple[list[list[int]], float]:
    ranked, latencies = [], []
    for q in questions:
        t = time.perf_counter()
        ranked.append(search(q))
        latencies.append(time.perf_counter() - t)
    return ranked, 1000 * statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--assets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "assets"
    )
    args = parser.parse_args()
    qa = load_cmrc(args.assets)
    count, tokenizer_id = token_counter(tokenizer_path(args.assets / "tokenizers" / "chinese-llama-2"))
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        for i, text in enumerate(qa.paragraphs):
            (docs / f"{i:05d}.txt").write_text(text, encoding="utf-8")
        store = Store(db=Path(tmp) / "db")
        ingest([docs], store, count, SplitSettings(tokenizer_id=tokenizer_id))
        questions, gold = [q.text for q in qa.questions], [q.paragraph for q in qa.questions]

        def para(source: str) -> int:
            return int(Path(source).stem)

        docqa = Retriever(store)
        wrapped = DocQARetriever(docqa, similarity_top_k=K)
        vector = chroma_vector_retriever(store, similarity_top_k=K)
        rows = []
        for name, search in (
            (
                "docqa Retriever (default: char-bigram BM25)",
                lambda q: [para(h.source) for h in docqa.retrieve(q, K)],
            ),
            (
                "LlamaIndex DocQARetriever over the same store",
                lambda q: [para(n.node.metadata["source"]) for n in wrapped.retrieve(q)],
            ),
            (
                "LlamaIndex ChromaVectorStore (hashed-bigram vectors)",
                lambda q: [para(n.node.metadata["source"]) for n in vector.retrieve(q)],
            ),
        ):
            ranked, median = timed(search, questions)
            rows.append(row(name, metrics(ranked, gold), f"query median {median:.1f} ms"))
    print(f"| **{qa.name}**: {len(qa.paragraphs)} paragraphs, {len(questions)} questions |||||")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

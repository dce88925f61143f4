"""Hits are distinct passages: overlapping chunks of one file are joined, with exact spans."""

import itertools

from zhllama.docqa.ingest import ingest
from zhllama.docqa.passages import merge_adjacent
from zhllama.docqa.retrieval import Hit, Retriever

TEXT = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥"


def _hit(start: int, end: int, score: float, source: str = "a.txt", page: int | None = None) -> Hit:
    return Hit(f"id-{source}-{start}", TEXT[start:end], source, start, end, start, score, 0, page)


def test_overlapping_chunks_of_one_file_become_one_passage_with_the_exact_text():
    hits = [_hit(0, 8, 1.0), _hit(6, 14, 3.0), _hit(14, 20, 2.0), _hit(3, 9, 2.5, source="b.txt")]
    passages = merge_adjacent(hits)
    assert [(p.source, p.start, p.end, p.score, p.rank, p.chunks) for p in passages] == [
        ("a.txt", 0, 20, 3.0, 1, 3),
        ("b.txt", 3, 9, 2.5, 2, 1),
    ]
    assert passages[0].text == TEXT[0:20] and passages[0].chunk_id == "id-a.txt-6"


def test_gaps_pages_and_the_size_cap_keep_passages_apart():
    gap = merge_adjacent([_hit(0, 5, 1.0), _hit(7, 12, 2.0)])
    assert [(p.start, p.end) for p in gap] == [(7, 12), (0, 5)]
    pages = merge_adjacent([_hit(0, 8, 1.0, page=1), _hit(6, 12, 2.0, page=2)])
    assert len(pages) == 2
    capped = merge_adjacent([_hit(i, i + 3, 1.0 + i) for i in range(0, 12, 2)], max_chunks=3)
    assert [(p.start, p.end) for p in sorted(capped, key=lambda p: p.start)] == [(0, 7), (6, 13)]


def test_retrieved_passages_never_repeat_text_and_cite_the_file_exactly(
    tmp_path, store, count_tokens, settings, cmrc
):
    docs = tmp_path / "docs"
    docs.mkdir()
    long_text = "\n".join(p["context"] for p in cmrc[:4])  # many 64-token chunks, overlapping by 16
    (docs / "long.txt").write_text(long_text, encoding="utf-8")
    (docs / "other.txt").write_text(cmrc[5]["context"], encoding="utf-8")
    ingest([docs], store, count_tokens, settings)
    question = cmrc[1]["qas"][0]["question"]
    hits = Retriever(store).retrieve(question, k=6)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert sum(h.chunks for h in hits) <= 6 and any(h.chunks > 1 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    spans = sorted((h.start, h.end) for h in hits if h.source == str(docs / "long.txt"))
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans)), spans
    for hit in hits:
        original = (docs / "long.txt" if hit.source.endswith("long.txt") else docs / "other.txt").read_text(
            encoding="utf-8"
        )
        assert hit.text == original[hit.start : hit.end]


def test_one_passage_asked_for_is_the_best_chunk_alone(tmp_path, store, count_tokens, settings, cmrc):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "long.txt").write_text("\n".join(p["context"] for p in cmrc[:4]), encoding="utf-8")
    ingest([docs], store, count_tokens, settings)
    question = cmrc[1]["qas"][0]["question"]
    [best] = Retriever(store).retrieve(question, k=1)
    assert best.chunks == 1 and best.end - best.start == len(best.text)
    assert best.chunk_id == Retriever(store).retrieve(question, k=6)[0].chunk_id

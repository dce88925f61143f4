"""Neighbour-aware ranking: a chunk's window is itself and the chunks next to it in its file (named
by their deterministic ids), and lexical retrieval ranks chunks by their windows' BM25 scores."""

import pytest

from zhllama.docqa.ingest import ingest
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.windows import window, window_scores


def test_a_window_names_the_chunks_next_to_it_in_its_file(
    tmp_path, store, count_tokens, settings, cmrc, write_corpus
):
    write_corpus(tmp_path / "docs", 3, cmrc)
    ingest([tmp_path / "docs"], store, count_tokens, settings)
    records = list(store.records())
    where = {(meta["source"], meta["chunk"]): chunk_id for chunk_id, _, meta in records}
    assert len(records) > 6, "several chunks per file"
    for chunk_id, _, meta in records:
        source, number = meta["source"], meta["chunk"]
        neighbours = [where[source, n] for n in (number - 1, number + 1) if (source, n) in where]
        assert [i for i in window(chunk_id, meta) if i in where.values()] == [chunk_id, *neighbours]
    assert window("x", {"source": "a.txt", "chunk": 2}) == ["x"], "no settings or hash: the chunk alone"


def test_a_window_of_a_chunk_with_an_older_hashed_id_names_its_hashed_neighbours():
    from zhllama.docqa.preparing import chunk_id, hashed_chunk_id

    meta = {"settings": "s", "source": "/a.txt", "file_sha256": "f", "chunk": 4}
    older = [hashed_chunk_id("s", "/a.txt", "f", n) for n in (4, 3, 5)]
    assert window(older[0], meta) == older
    numbered = window(chunk_id("s", "/a.txt", "f", 4), meta)
    assert numbered == [chunk_id("s", "/a.txt", "f", n) for n in (4, 3, 5)]
    assert numbered[1][:24] == numbered[0][:24] and numbered[1] < numbered[0] < numbered[2], (
        "one file sorts together"
    )


def test_a_file_that_holds_the_question_across_two_chunks_beats_one_that_quotes_half_of_it(
    tmp_path, store, count_tokens, settings, cmrc
):
    """Another file quotes one sentence of a CMRC paragraph; the question asks about that sentence and
    the next, which lies in the paragraph's next chunk. Scored alone, the short quotation wins; scored
    with its neighbours, the paragraph's chunk does, and the passage holds the answer."""
    docs = tmp_path / "docs"
    docs.mkdir()
    source = cmrc[0]["context"]
    quote = "玩家以水枪、小枪、锤子或是水炸弹泡封敌人(玩家或NPC)，即为一泡封，将水泡击破为一踢爆。"
    assert quote in source
    (docs / "source.txt").write_text(source, encoding="utf-8")
    (docs / "quote.txt").write_text(quote, encoding="utf-8")
    for i, paragraph in enumerate(cmrc[1:8]):
        (docs / f"other{i}.txt").write_text(paragraph["context"], encoding="utf-8")
    ingest([docs], store, count_tokens, settings)
    question = "玩家用锤子或水炸弹泡封敌人，每次会减少什么？"
    index = store.lexical_index()
    alone = store.get([index.search(question, 1)[0][0]])
    assert [meta["source"] for _, meta in alone.values()] == [str(docs / "quote.txt")]

    hits = Retriever(store).retrieve(question, 2)
    assert hits[0].source == str(docs / "source.txt") and hits[0].chunks == 2
    assert "每次泡封会减少生命数" in hits[0].text
    metadata = {chunk_id: meta for chunk_id, _, meta in store.records()}
    scores = window_scores(index, question, metadata)
    assert [h.score for h in hits] == pytest.approx([scores[h.chunk_id] for h in hits])
    assert all(h.lexical_score == h.score for h in hits)

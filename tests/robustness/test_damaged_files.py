"""Attacks through damaged files zhllama reads: model weights, GGUF files, tokenizers, embedding
folders and document stores. Each is named with what is wrong and how to recover; nothing crashes."""

import json
import os
import shutil

import pytest

from zhllama.docqa.store import Store


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    return folder


@pytest.mark.parametrize("damage", ["truncated", "random", "empty"])
def test_damaged_safetensors_weights_are_named(model_copy, refuses, damage):
    weights = next(model_copy.glob("*.safetensors"))
    data = weights.read_bytes()
    weights.write_bytes(
        {"truncated": data[: len(data) // 2], "random": os.urandom(4096), "empty": b""}[damage]
    )
    refuses("chat", "你好", "--model", model_copy, says="are its *.safetensors files complete")


def test_pickled_weights_are_refused_without_being_loaded(model_copy, refuses):
    for weights in model_copy.glob("*.safetensors"):
        weights.rename(weights.with_name("pytorch_model.bin"))
    refuses("chat", "你好", "--model", model_copy, says="safetensors only")


def test_a_damaged_tokenizer_is_named(model_copy, refuses):
    (model_copy / "tokenizer.model").write_bytes(b"not a sentencepiece model")
    refuses("chat", "你好", "--model", model_copy, says="not a SentencePiece model")


@pytest.mark.parametrize("keep", [0.5, 0.05, 0.001])
def test_a_truncated_gguf_is_named(tiny_gguf, tmp_path, tokenizer_dir, refuses, keep):
    data = tiny_gguf.read_bytes()
    (tmp_path / "cut.gguf").write_bytes(data[: int(len(data) * keep)])
    refuses("chat", "你好", "--gguf", tmp_path / "cut.gguf", "--tokenizer", tokenizer_dir, says="cut.gguf")


def test_a_file_that_is_not_a_gguf_is_named(tmp_path, tokenizer_dir, refuses):
    (tmp_path / "x.gguf").write_text("这不是模型文件", encoding="utf-8")
    refuses("chat", "你好", "--gguf", tmp_path / "x.gguf", "--tokenizer", tokenizer_dir, says="GGUF")


def test_an_embedding_folder_with_only_pickled_weights_is_refused(tmp_path, refuses):
    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04 pickled code would run here")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("文本。", encoding="utf-8")
    refuses(
        "qa",
        "ingest",
        tmp_path / "docs",
        "--db",
        tmp_path / "db",
        "--embeddings",
        folder,
        says="zhllama convert",
    )


@pytest.fixture
def small_store(tmp_path, examples_dir, tokenizer_dir):
    from click.testing import CliRunner

    from zhllama.cli import main

    db = tmp_path / "db"
    result = CliRunner().invoke(
        main, ["qa", "ingest", str(examples_dir), "--db", str(db), "--tokenizer", str(tokenizer_dir)]
    )
    assert result.exit_code == 0, result.output
    return db


def _refused_in_a_new_process(run_cli, *args, says: str) -> None:
    """Chroma keeps a store open per process: damage is seen by a process that opens it afresh."""
    result = run_cli(*args, check=False)
    assert result.returncode == 1, result.stdout
    assert says in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_truncated_chroma_database_is_named_with_how_to_rebuild(small_store, run_cli):
    database = small_store / "chroma" / "chroma.sqlite3"
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 3])
    for command in (("qa", "search", "长城"), ("qa", "list"), ("qa", "ingest", small_store.parent)):
        _refused_in_a_new_process(
            run_cli, *command, "--db", small_store, says="ingest them again to rebuild it"
        )


def test_a_garbage_hnsw_index_file_is_named_with_how_to_rebuild(small_store, run_cli):
    segment = next(p for p in (small_store / "chroma").iterdir() if p.is_dir())
    (segment / "index_metadata.pickle").write_bytes(b"garbage")
    _refused_in_a_new_process(run_cli, "qa", "search", "长城", "--db", small_store, says="looks damaged")


def test_a_damaged_lexical_cache_is_rebuilt_silently(small_store):
    for path in (small_store / "lexical").rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00garbage")
    hits = (
        __import__("zhllama.docqa.retrieval", fromlist=["Retriever"])
        .Retriever(Store(db=small_store))
        .retrieve("长城", 1)
    )
    assert hits and hits[0].source.endswith("长城.md")


def test_index_folders_left_by_a_killed_build_are_removed(small_store):
    lexical = Store(db=small_store).lexical_folder()
    dead = lexical / ".building-999999999-abc"
    dead.mkdir()
    (dead / "data.csc.index.npy").write_bytes(b"\x00" * 1024)
    live = lexical / f".building-{os.getpid()}-def"
    live.mkdir()
    Store(db=small_store).rebuild_lexical()
    assert not dead.exists(), "a dead process's half-written index is removed"
    assert live.exists(), "a live process's build is left alone"

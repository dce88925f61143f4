"""Attacks on the commands that turn checkpoints into files and run them faster: convert, quantize,
speculative decoding and CFG. Each bad input is one `Error:` line that says what to do."""

import pytest

QUESTION = "你好"


@pytest.fixture
def not_a_gguf(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_text("这不是模型文件", encoding="utf-8")
    return path


@pytest.fixture(params=[0.5, 0.01])
def cut_gguf(request, tiny_gguf, tmp_path):
    path = tmp_path / "cut.gguf"
    data = tiny_gguf.read_bytes()
    path.write_bytes(data[: int(len(data) * request.param)])
    return path


def test_quantizing_a_file_that_is_not_a_gguf(refuses, not_a_gguf, tmp_path):
    refuses("gguf", "quantize", not_a_gguf, tmp_path / "q.gguf", "q4_k_m", says="is not a readable GGUF file")
    assert not (tmp_path / "q.gguf").exists()


def test_quantizing_a_truncated_gguf(refuses, cut_gguf, tmp_path):
    refuses("gguf", "quantize", cut_gguf, tmp_path / "q.gguf", "q8_0", says="cut.gguf")
    assert not (tmp_path / "q.gguf").exists()


def test_an_unknown_quantization_type_lists_llama_cpps(refuses, tiny_gguf, tiny_model_dir, tmp_path):
    refuses(
        "gguf", "quantize", tiny_gguf, tmp_path / "q.gguf", "q4_k_x", says="unknown quantization type TYPE"
    )
    refuses(
        "gguf", "export", tiny_model_dir, tmp_path / "e.gguf", "--quant", "q9", says="llama.cpp offers f32"
    )
    assert list(tmp_path.iterdir()) == []


def test_requantizing_is_refused(refuses, tiny_gguf, tmp_path):
    from zhllama.checkpoints.gguf.quantize import quantize_gguf

    quantized = quantize_gguf(tiny_gguf, tmp_path / "q4.gguf", "q4_0", threads=2).path
    refuses("gguf", "quantize", quantized, tmp_path / "q2.gguf", "q2_k", says="already quantized (q4_0)")


def test_an_importance_matrix_that_is_not_one(refuses, tiny_gguf, not_a_gguf, tmp_path):
    refuses(
        "gguf", "quantize", tiny_gguf, tmp_path / "q.gguf", "q4_0", "--imatrix", not_a_gguf, says="--imatrix"
    )
    refuses(
        "gguf",
        "quantize",
        tiny_gguf,
        tmp_path / "q.gguf",
        "q4_0",
        "--imatrix",
        tmp_path / "none",
        says="--imatrix",
    )


def test_measuring_a_truncated_gguf(refuses, cut_gguf, assets):
    refuses("eval", "ppl", cut_gguf, "--data", assets / "corpus" / "novel_红楼梦.txt", says="cut.gguf")


def test_converting_a_folder_with_no_weights(refuses, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    refuses("convert", tmp_path / "empty", tmp_path / "out", says="holds no pytorch_model*.bin weights")
    refuses("convert", tmp_path / "missing", tmp_path / "out", says="MODEL_DIR")


def test_a_draft_with_another_vocabulary(refuses, tiny_model_dir, foreign_vocabulary_dir):
    refuses(
        "chat",
        QUESTION,
        "--model",
        tiny_model_dir,
        "--draft",
        foreign_vocabulary_dir,
        says="another vocabulary",
    )


def test_a_draft_of_the_wrong_kind(refuses, tiny_gguf, tiny_draft_dir, tokenizer_dir):
    refuses("chat", QUESTION, "--gguf", tiny_gguf, "--tokenizer", tokenizer_dir, "--draft", tiny_draft_dir,
            says="--draft")  # fmt: skip


@pytest.mark.parametrize("runtime", ["gguf", "openai"])
def test_cfg_on_a_runtime_without_it(refuses, runtime, tiny_gguf, tokenizer_dir):
    model = ["--gguf", tiny_gguf] if runtime == "gguf" else ["--openai-base-url", "http://127.0.0.1:9/v1"]
    refuses("chat", QUESTION, *model, "--tokenizer", tokenizer_dir, "--guidance-scale", "1.5",
            says="runs on the transformers backend only")  # fmt: skip


@pytest.mark.parametrize("value", ["0", "-2", "many"])
def test_a_lookup_that_is_not_a_positive_count(refuses, value):
    refuses("chat", QUESTION, "--lookup", value, says="--lookup", status=2)

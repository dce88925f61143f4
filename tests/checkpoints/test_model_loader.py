"""`zhllama.load`: local safetensors folders only, clear errors otherwise; the tiny model chats."""

import shutil

import pytest

import zhllama
from zhllama.backends import generate_reply
from zhllama.core.sampling import Sampling
from zhllama.errors import ModelLoadError


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return zhllama.load(tiny_model_dir)


def test_a_hub_id_is_refused_with_a_request_for_a_local_folder():
    with pytest.raises(ModelLoadError, match=r"hub id.*never downloads.*local folder"):
        zhllama.load("hfl/chinese-alpaca-2-7b")


def test_a_folder_without_safetensors_is_refused(tmp_path, tiny_model_dir):
    shutil.copy(tiny_model_dir / "config.json", tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(ModelLoadError, match=r"no \*\.safetensors.*pytorch_model\.bin"):
        zhllama.load(tmp_path)


def test_a_file_or_a_folder_without_config_is_refused(tmp_path, tiny_model_dir):
    with pytest.raises(ModelLoadError, match="not a folder"):
        zhllama.load(tiny_model_dir / "config.json")
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        zhllama.load(tmp_path)


def test_an_unknown_dtype_is_refused(tiny_model_dir):
    with pytest.raises(ModelLoadError, match="unknown dtype 'fp8'"):
        zhllama.load(tiny_model_dir, dtype="fp8")


def test_load_returns_the_model_and_the_exact_sentencepiece_tokenizer(tiny):
    model, tokenizer = tiny
    assert model.config.model_type == "llama"
    assert not model.training
    assert len(tokenizer) == 55296
    assert type(tokenizer).__name__ == "ChineseLlamaTokenizer"


def test_the_tiny_model_answers_in_chinese_through_the_template(tiny):
    model, tokenizer = tiny
    streamed: list[str] = []
    reply = generate_reply(
        model,
        tokenizer,
        [{"role": "user", "content": "续写下面的文字：话说天下大势，分久必合，合久必分。"}],
        greedy=True,
        sampling=Sampling(max_new_tokens=24),
        on_text=streamed.append,
    )
    assert sum("\u4e00" <= ch <= "\u9fff" for ch in reply) >= 8, reply
    assert "".join(streamed).strip() == reply.strip()

"""load_tokenizer: the exact slow and fast tokenizers, configured as upstream, local files only."""

import copy
import pickle
from pathlib import Path

import pytest

from zhllama.core.tokenizer import load_tokenizer
from zhllama.errors import TokenizerError

TEXT = "这件事情不可能是真的 Hello  world"


@pytest.mark.parametrize("kind", ["slow", "fast"])
def test_configured_as_upstream(kind, request, sp):
    tok = request.getfixturevalue(kind)
    assert len(tok) == 55296
    assert (tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) == (1, 2, 0)
    assert tok.pad_token == "<pad>" and tok.pad_token_id == 32000
    ids = tok(TEXT)["input_ids"]
    assert ids == [1, *sp.encode(TEXT)]  # BOS added, no EOS, SentencePiece's pieces
    assert tok.is_fast is (kind == "fast")


def test_legacy_behaviour_keeps_the_space_piece_after_bos(slow, fast):
    # legacy=True: "[INST]" right after BOS starts with "▁[" (518), not "[" (29961)
    assert slow("[INST]")["input_ids"][:2] == [1, 518]
    assert fast("[INST]")["input_ids"][:2] == [1, 518]


def test_fast_tokenizer_gives_offsets_into_the_text(fast):
    enc = fast("不可能是 天下午", return_offsets_mapping=True)
    pieces = fast.convert_ids_to_tokens(enc["input_ids"])
    spans = dict(zip(pieces, enc["offset_mapping"], strict=True))
    assert spans["不可能"] == (0, 3)
    assert spans["午"] == (7, 8)


@pytest.mark.parametrize("kind", ["slow", "fast"])
def test_decode_round_trips(kind, request):
    tok = request.getfixturevalue(kind)
    text = "你好，世界 😀 tabs\tand  spaces"
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True) == text


def test_a_tokenizer_model_file_loads_like_its_folder(tokenizer_dir, slow, fast):
    text = "天下午后的阳光"
    assert load_tokenizer(tokenizer_dir / "tokenizer.model")(text)["input_ids"] == slow(text)["input_ids"]
    assert (
        load_tokenizer(tokenizer_dir / "tokenizer.model", fast=True)(text)["input_ids"]
        == (fast(text)["input_ids"])
    )


@pytest.mark.parametrize("path", ["hfl/chinese-alpaca-2-7b", "/no/such/folder"])
def test_hub_ids_and_missing_paths_are_refused_without_network(path):
    with pytest.raises(TokenizerError, match=r"no network.*local folder containing tokenizer\.model"):
        load_tokenizer(path)


def test_a_folder_without_tokenizer_model_is_refused(tmp_path):
    with pytest.raises(TokenizerError, match=r"holds no tokenizer\.model"):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize("content", [b"", b"not a sentencepiece model at all \xff\xfe", b'{"model": {}}'])
@pytest.mark.parametrize("fast_kind", [False, True])
def test_a_file_that_is_not_sentencepiece_is_refused(tmp_path, content, fast_kind):
    bad = tmp_path / "tokenizer.model"
    bad.write_bytes(content)
    with pytest.raises(TokenizerError, match="not a SentencePiece model"):
        load_tokenizer(bad, fast=fast_kind)


def test_fast_tokenizer_survives_pickle_and_deepcopy(fast):
    text = "不可能是"
    assert pickle.loads(pickle.dumps(fast))(text)["input_ids"] == fast(text)["input_ids"]
    assert copy.deepcopy(fast)(text)["input_ids"] == fast(text)["input_ids"]


@pytest.mark.parametrize("kind", ["slow", "fast"])
def test_saved_tokenizer_reloads_exactly_with_plain_autotokenizer(kind, request, tmp_path: Path, sp):
    from transformers import AutoTokenizer

    request.getfixturevalue(kind).save_pretrained(tmp_path)
    assert not (tmp_path / "tokenizer.json").exists()  # a tokenizer.json cannot hold the exact tokenizer
    reloaded = AutoTokenizer.from_pretrained(tmp_path)  # no trust_remote_code
    assert reloaded(TEXT)["input_ids"] == [1, *sp.encode(TEXT)]
    assert reloaded.pad_token_id == 32000

"""check/fix: what AutoTokenizer hands runtimes for a folder, and rewriting the folder so it is exact."""

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from zhllama.cli.tokenizer import group
from zhllama.core.tokenizer.runtime_check import check_folder, fix_folder, fixed_copy, load_as_runtimes_do
from zhllama.core.tokenizer.samples import BUILTIN_SENTENCES
from zhllama.errors import TokenizerError


def test_a_stock_folder_gives_runtimes_an_inexact_tokenizer(tokenizer_copy):
    result = check_folder(tokenizer_copy)
    assert result.is_fast and result.adds_bos and not result.adds_eos
    assert result.parity.mismatched > 0 and not result.ok
    assert result.parity.lines == len(BUILTIN_SENTENCES)


def test_fix_makes_plain_autotokenizer_exact_without_remote_code(tokenizer_copy: Path, sp):
    original = json.loads((tokenizer_copy / "tokenizer_config.json").read_text())
    result = fix_folder(tokenizer_copy)

    assert result.written == [str(tokenizer_copy / "tokenizer_config.json")]
    backup = tokenizer_copy / "tokenizer_config.json.bak"
    assert json.loads(backup.read_text()) == original
    config = json.loads((tokenizer_copy / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "SentencePieceBackend"
    assert config["model_max_length"] == original["model_max_length"]  # other keys kept

    for trust in (False, True):
        tok = load_as_runtimes_do(tokenizer_copy, trust_remote_code=trust)
        assert all(tok(x)["input_ids"] == [1, *sp.encode(x)] for x in BUILTIN_SENTENCES if "</s>" not in x)
        assert tok.pad_token_id == 32000
    assert check_folder(tokenizer_copy).ok


def test_fix_is_idempotent(tokenizer_copy: Path):
    fix_folder(tokenizer_copy)
    before = sorted(p.name for p in tokenizer_copy.iterdir())
    again = fix_folder(tokenizer_copy)
    assert not again.changed
    assert sorted(p.name for p in tokenizer_copy.iterdir()) == before


def test_fix_moves_an_inconsistent_tokenizer_json_aside(tokenizer_copy: Path):
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(tokenizer_copy).save_pretrained(tokenizer_copy / "saved")
    (tokenizer_copy / "tokenizer.json").write_bytes(
        (tokenizer_copy / "saved" / "tokenizer.json").read_bytes()
    )
    result = fix_folder(tokenizer_copy)
    assert str(tokenizer_copy / "tokenizer.json.bak") in result.backups
    assert not (tokenizer_copy / "tokenizer.json").exists()
    assert check_folder(tokenizer_copy).ok


def test_fix_drops_a_remote_code_tokenizer_entry_but_keeps_other_auto_map_entries(tokenizer_copy: Path):
    path = tokenizer_copy / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["auto_map"] = {"AutoTokenizer": ["tok.Tok", None], "AutoModel": "m.M"}
    path.write_text(json.dumps(config))
    fix_folder(tokenizer_copy)
    assert json.loads(path.read_text())["auto_map"] == {"AutoModel": "m.M"}


def test_check_and_fix_refuse_a_missing_folder(tmp_path):
    with pytest.raises(TokenizerError, match="no network"):
        check_folder(tmp_path / "absent")
    with pytest.raises(TokenizerError, match=r"holds no tokenizer\.model"):
        fix_folder(tmp_path)


def test_cli_check_reports_then_fixes(tokenizer_copy: Path, tmp_path: Path):
    runner = CliRunner()
    data = tmp_path / "mine.txt"
    data.write_text("\n".join(BUILTIN_SENTENCES[:10]), encoding="utf-8")

    first = runner.invoke(group, ["check", str(tokenizer_copy)])
    assert first.exit_code == 1 and "NOT OK" in first.output and "--data" in first.output

    fixed = runner.invoke(group, ["check", str(tokenizer_copy), "--fix", "--json", "--data", str(data)])
    assert fixed.exit_code == 0, fixed.output
    report = json.loads(fixed.output)
    assert report["sample"] == "data" and report["check"]["lines"] == 10
    assert report["fix"]["after"]["ok"] and report["fix"]["after"]["mismatched"] == 0

    again = runner.invoke(group, ["check", str(tokenizer_copy), "--fix"])
    assert again.exit_code == 0 and "already fixed" in again.output


def test_cli_turns_library_errors_into_clean_messages():
    result = CliRunner().invoke(group, ["check", "hfl/chinese-alpaca-2-7b"])
    assert result.exit_code == 1
    assert "Error: tokenizer path 'hfl/chinese-alpaca-2-7b' does not exist" in result.output
    assert "Traceback" not in result.output


BYTE_FALLBACK_TEXT = "句号．\n崁頂🙂"  # fullwidth stop, newline, a rare Traditional character, an emoji


def test_plain_transformers_decodes_a_fixed_folders_byte_pieces_as_text_and_check_says_so(
    tokenizer_copy: Path, sp
):
    fix_folder(tokenizer_copy)
    ids = sp.encode(BYTE_FALLBACK_TEXT)
    decoded = load_as_runtimes_do(tokenizer_copy).decode(ids)  # transformers' SentencePieceBackend
    assert "<0xEF><0xBC><0x8E><0x0A>" in decoded and sp.decode(ids) == BYTE_FALLBACK_TEXT
    result = check_folder(tokenizer_copy, [BYTE_FALLBACK_TEXT, "你好"])
    assert result.ok and not result.decodes_exactly
    assert result.decoding.examples[0].sentencepiece == BYTE_FALLBACK_TEXT


def test_with_zhllamas_decoding_a_fixed_folder_matches_sentencepiece_in_ids_and_text(
    tokenizer_copy: Path, sp, lines, exact_decoding
):
    fix_folder(tokenizer_copy)
    tok = load_as_runtimes_do(tokenizer_copy)
    sample = [*lines, BYTE_FALLBACK_TEXT]
    expected = sp.encode(sample)
    assert [
        i
        for i, (line, ids) in enumerate(zip(sample, expected, strict=True))
        if tok(line, split_special_tokens=True)["input_ids"] != [1, *ids]
    ] == []
    assert [i for i, ids in enumerate(expected) if tok.decode(ids) != sp.decode(ids)] == []
    assert check_folder(tokenizer_copy, [BYTE_FALLBACK_TEXT]).decodes_exactly


def test_with_zhllamas_decoding_any_id_sequence_decodes_as_sentencepiece_does(
    tokenizer_copy: Path, sp, exact_decoding
):
    fix_folder(tokenizer_copy)
    tok = load_as_runtimes_do(tokenizer_copy)
    rng = random.Random(12)
    byte_ids = [sp.piece_to_id(f"<0x{b:02X}>") for b in range(256)]
    sequences = [
        [
            rng.choice(byte_ids) if rng.random() < 0.3 else rng.randrange(3, sp.get_piece_size())
            for _ in range(rng.randint(1, 24))
        ]
        for _ in range(3000)
    ]
    assert [ids for ids in sequences if tok.decode(ids) != sp.decode(ids)] == []
    with_controls = [1, *sp.encode("问"), 2, 1, *sp.encode(" 答．")]
    assert tok.decode(with_controls, skip_special_tokens=True) == sp.decode(with_controls)


def test_a_fixed_copy_is_exact_links_the_weights_and_leaves_the_model_folder_alone(
    tiny_model_dir, tmp_path, sp
):
    before = {path.name: path.stat().st_mtime_ns for path in tiny_model_dir.iterdir()}
    copy = fixed_copy(tiny_model_dir, tmp_path / "served")
    assert (copy / "model.safetensors").resolve() == (tiny_model_dir / "model.safetensors").resolve()
    assert (copy / "model.safetensors").is_symlink() and (copy / "tokenizer.model").is_symlink()
    assert not (copy / "config.json").is_symlink()
    assert check_folder(copy).ok
    assert {path.name: path.stat().st_mtime_ns for path in tiny_model_dir.iterdir()} == before
    with pytest.raises(TokenizerError, match=r"`destination` .* exists"):
        fixed_copy(tiny_model_dir, copy)

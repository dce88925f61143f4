"""Converting the tiny model to GGUF: llama metadata, the full SentencePiece vocabulary, and a
tokenizer that segments text exactly as SentencePiece does."""

import itertools

import gguf
import pytest
from click.testing import CliRunner

from zhllama.checkpoints.gguf import export_gguf, read_config
from zhllama.cli import main
from zhllama.core import rope_scaling
from zhllama.core.templates import get_template
from zhllama.core.tokenizer.model_file import read_model_proto
from zhllama.errors import ModelLoadError


def field(reader: gguf.GGUFReader, key: str):
    return reader.get_field(key).contents()


def test_the_gguf_describes_a_llama_model_with_the_checkpoints_shape(tiny_gguf):
    reader = gguf.GGUFReader(str(tiny_gguf))
    assert field(reader, "general.architecture") == "llama"
    assert field(reader, "llama.context_length") == 256
    assert field(reader, "llama.embedding_length") == 256
    assert field(reader, "llama.block_count") == 4
    assert field(reader, "llama.attention.head_count") == 8
    assert field(reader, "llama.rope.dimension_count") == 32
    names = {tensor.name for tensor in reader.tensors}
    assert {
        "token_embd.weight",
        "output_norm.weight",
        "blk.3.attn_q.weight",
        "blk.0.ffn_gate.weight",
    } <= names
    assert "output.weight" not in names  # tied embeddings: llama.cpp reuses token_embd
    assert len(names) == 2 + 4 * 9


def test_the_vocabulary_is_the_sentencepiece_model_piece_for_piece(tiny_gguf, tiny_model_dir):
    reader = gguf.GGUFReader(str(tiny_gguf))
    proto = read_model_proto(tiny_model_dir)
    assert field(reader, "tokenizer.ggml.model") == "llama"
    assert field(reader, "tokenizer.ggml.tokens") == [piece.piece for piece in proto.pieces]
    assert field(reader, "tokenizer.ggml.scores") == pytest.approx([piece.score for piece in proto.pieces])
    assert field(reader, "tokenizer.ggml.token_type") == [int(piece.type) for piece in proto.pieces]
    assert len(proto.pieces) == 55296
    ids = {
        key: field(reader, f"tokenizer.ggml.{key}_token_id") for key in ("bos", "eos", "unknown", "padding")
    }
    assert ids == {"bos": 1, "eos": 2, "unknown": 0, "padding": 32000}
    assert field(reader, "tokenizer.ggml.add_bos_token") is True
    assert field(reader, "tokenizer.ggml.add_eos_token") is False
    assert field(reader, "tokenizer.chat_template") == get_template("alpaca-2").chat_template_with_bos


def test_the_gguf_metadata_reads_back_as_a_config_the_rope_planner_accepts(tiny_gguf, tiny_model_dir):
    config = read_config(tiny_gguf)
    assert rope_scaling.describe(config).trained_length == 256
    shipped = rope_scaling.plan(__import__("json").loads((tiny_model_dir / "config.json").read_text()), 1024)
    assert rope_scaling.plan(config, 1024).llama_cpp() == shipped.llama_cpp()


def corpus_sample(assets, per_file: int = 60) -> list[str]:
    lines: list[str] = []
    for path in sorted((assets / "corpus").glob("*.txt")):
        with path.open(encoding="utf-8") as handle:
            text_lines = (line.strip() for line in handle)
            lines += list(
                itertools.islice((line for line in text_lines if len(line) > 8), 200, 200 + per_file)
            )
    return lines


def test_llama_cpp_segments_text_exactly_as_sentencepiece(llama_cpp_backend, tokenizer, assets):
    samples = [
        *corpus_sample(assets),
        "不可能是天下午的事",  # ties between score-0 pieces: SentencePiece breaks them by position
        "Hello, 世界! 1234 😀 \t tabs  and  spaces",
        "[INST] <<SYS>>\n系统\n<</SYS>>\n\n问题 [/INST]",
        "用户输入 </s> 和 <s> 以及 <unk> 都是普通文字",
    ]
    assert len(samples) > 300
    mismatched = [
        text
        for text in samples
        if llama_cpp_backend.tokenizer(text)["input_ids"] != list(tokenizer.sp_model.encode(text))
    ]
    assert mismatched == []


def test_zhllama_gguf_export_writes_an_f16_file_llama_cpp_loads(tiny_model_dir, tmp_path):
    from llama_cpp import Llama

    out = tmp_path / "tiny.f16.gguf"
    result = CliRunner().invoke(main, ["gguf", "export", str(tiny_model_dir), str(out), "--dtype", "f16"])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    reader = gguf.GGUFReader(str(out))
    assert field(reader, "general.file_type") == int(gguf.LlamaFileType.MOSTLY_F16)
    llama = Llama(model_path=str(out), n_ctx=256, n_threads=2, verbose=False)
    assert llama.n_vocab() == 55296


def test_exporting_a_folder_without_weights_says_what_is_missing(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(ModelLoadError, match=r"no \*\.safetensors"):
        export_gguf(tmp_path, tmp_path / "out.gguf")

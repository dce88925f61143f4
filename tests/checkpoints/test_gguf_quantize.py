"""Quantizing the tiny model's GGUF with llama.cpp's own quantizer, and importance matrices.

The tiny model's FFN is 688 wide: no K-quant (rows of 256) nor legacy type (rows of 32) fits
``ffn_down``'s rows, so llama.cpp keeps those four tensors at F16 and says so; the tests pin that
down as what the benchmark table reports.
"""

import struct

import numpy as np
import pytest
from click.testing import CliRunner

from zhllama.checkpoints.gguf.imatrix import compute_imatrix, read_imatrix
from zhllama.checkpoints.gguf.quantize import quant_types, quantize_gguf, resolve_quant, tensor_types
from zhllama.checkpoints.gguf.reader import read_file_type
from zhllama.cli import main
from zhllama.errors import QuantizationError


@pytest.fixture(scope="module")
def imatrix_file(tiny_model_dir, assets, tmp_path_factory):
    text = tmp_path_factory.mktemp("calibration") / "text.txt"
    with open(assets / "corpus" / "novel_红楼梦.txt", encoding="utf-8") as novel:
        text.write_text(novel.read(3000), encoding="utf-8")
    return compute_imatrix(
        tiny_model_dir, [text], text.with_suffix(".imatrix.gguf"), chunk_tokens=128, max_chunks=4
    )


def test_the_types_are_llama_cpps_own_with_llama_quantizes_aliases():
    types = quant_types()
    assert {"f32", "f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0", "q3_k_m", "q2_k", "iq4_nl"} <= set(
        types
    )
    assert resolve_quant("Q4_K") == ("q4_k_m", types["q4_k_m"])


@pytest.mark.parametrize(("quant", "kind"), [("q8_0", "Q8_0"), ("q4_k_m", "Q4_K"), ("q2_k", "Q2_K")])
def test_quantizing_writes_a_smaller_file_llama_cpp_runs(tiny_gguf, tmp_path, quant, kind):
    from zhllama.backends import LlamaCppBackend
    from zhllama.core.sampling import Sampling

    seen = []
    result = quantize_gguf(
        tiny_gguf, tmp_path / "q.gguf", quant, threads=2, on_tensor=lambda *a: seen.append(a)
    )
    assert result.size < tiny_gguf.stat().st_size and read_file_type(result.path) == quant_types()[quant]
    assert result.tensor_types[kind] > 0 and result.tensor_types["F16"] == 4  # the four ffn_down
    assert len(result.fallbacks) == 4 and all(
        "ffn_down.weight - ncols 688" in note for note in result.fallbacks
    )
    assert seen[-1][:2] == (38, 38) and not (tmp_path / "q.gguf.partial").exists()
    backend = LlamaCppBackend.from_gguf(result.path, n_threads=2)
    reply = backend.complete(
        [{"role": "user", "content": "床前明月光，"}], sampling=Sampling(max_new_tokens=4), greedy=True
    )
    assert reply.completion_tokens == 4


def test_export_with_quant_writes_only_the_quantized_file(tiny_model_dir, tmp_path):
    result = CliRunner().invoke(
        main,
        [
            "gguf",
            "export",
            str(tiny_model_dir),
            str(tmp_path / "t.gguf"),
            "--quant",
            "q4_k",
            "--threads",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "q4_k_m: 4 F16, 9 F32, 22 Q4_K, 3 Q6_K" in result.output
    assert "falling back to" in result.output  # llama.cpp's fallback, shown
    assert [p.name for p in tmp_path.iterdir()] == ["t.gguf"]


def test_the_very_low_bit_types_need_an_importance_matrix(tiny_gguf, tmp_path, imatrix_file):
    with pytest.raises(QuantizationError, match="requires an imatrix"):
        quantize_gguf(tiny_gguf, tmp_path / "iq2.gguf", "iq2_xxs", threads=2)
    assert not (tmp_path / "iq2.gguf").exists()
    result = quantize_gguf(tiny_gguf, tmp_path / "iq2.gguf", "iq2_xxs", imatrix=imatrix_file, threads=2)
    assert result.tensor_types["IQ2_XXS"] > 0


def test_the_importance_matrix_changes_what_the_quantizer_writes(tiny_gguf, tmp_path, imatrix_file):
    plain = quantize_gguf(tiny_gguf, tmp_path / "plain.gguf", "q4_k_m", threads=2)
    weighted = quantize_gguf(tiny_gguf, tmp_path / "weighted.gguf", "q4_k_m", imatrix=imatrix_file, threads=2)
    assert plain.tensor_types == weighted.tensor_types
    assert plain.path.read_bytes() != weighted.path.read_bytes()


def test_a_computed_importance_matrix_is_the_mean_square_of_each_input_column(imatrix_file):
    entries = read_imatrix(imatrix_file)
    assert len(entries) == 4 * 7  # q, k, v, o, gate, up, down per layer; no output head
    assert entries["blk.0.attn_q.weight"].shape == (256,) and entries["blk.0.ffn_down.weight"].shape == (688,)
    assert all(np.all(values >= 0) and np.all(np.isfinite(values)) for values in entries.values())
    # attention q/k/v see the same normed input, so the same statistics
    assert np.array_equal(entries["blk.1.attn_q.weight"], entries["blk.1.attn_v.weight"])


def test_llama_imatrixs_legacy_dat_format_is_read_as_means(tmp_path):
    values = np.array([2.0, 4.0, 6.0], dtype="<f4")
    name = b"blk.0.attn_q.weight"
    data = (
        struct.pack("<i", 1)
        + struct.pack("<i", len(name))
        + name
        + struct.pack("<ii", 2, 3)
        + values.tobytes()
    )
    (tmp_path / "imatrix.dat").write_bytes(data + struct.pack("<i", 2))
    assert read_imatrix(tmp_path / "imatrix.dat")["blk.0.attn_q.weight"].tolist() == [1.0, 2.0, 3.0]
    (tmp_path / "junk.dat").write_bytes(b"\x05\x00")
    with pytest.raises(QuantizationError, match=r"neither a GGUF nor llama-imatrix's \.dat format"):
        read_imatrix(tmp_path / "junk.dat")


def test_the_tensor_count_reads_from_the_header(tiny_gguf):
    assert tensor_types(tiny_gguf) == {"F32": 38}

"""Write the GGUF file: metadata, vocabulary and tensors of a local HF Llama checkpoint."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zhllama.checkpoints.model_loader import check_model_folder
from zhllama.core.model_config import read_model_config
from zhllama.errors import ModelLoadError

DTYPES = ("f32", "f16")


@contextmanager
def gguf_file_writer(target: Path, arch: str) -> Iterator[Any]:
    """A ``gguf.GGUFWriter`` for ``target``: the caller adds metadata and tensors; it is all written
    to ``TARGET.partial``, which takes ``target``'s name only once complete (a failure leaves no
    half file under the real name)."""
    import gguf

    partial = target.with_name(target.name + ".partial")
    writer = gguf.GGUFWriter(str(partial), arch)
    try:
        yield writer
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(partial, target)


def _config(model_dir: Path) -> dict[str, Any]:
    config = read_model_config(model_dir)
    if config.get("model_type") != "llama":
        raise ModelLoadError(
            f"{str(model_dir)!r} holds a {config.get('model_type')!r} model; zhllama exports the Llama "
            "architecture of the Chinese-LLaMA-2 family only"
        )
    return config


def _head_dim(config: dict[str, Any]) -> int:
    return int(config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"])


def _add_metadata(writer: Any, config: dict[str, Any], name: str, file_type: int) -> None:
    import gguf

    from zhllama.core.rope_scaling import describe

    writer.add_name(name)
    writer.add_context_length(int(config["max_position_embeddings"]))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or config["num_attention_heads"]))
    writer.add_layer_norm_rms_eps(float(config["rms_norm_eps"]))
    writer.add_rope_dimension_count(_head_dim(config))
    writer.add_file_type(file_type)
    checkpoint = describe(config)
    writer.add_rope_freq_base(float(checkpoint.rope_theta))
    if checkpoint.kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(checkpoint.factor))
    elif checkpoint.kind == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(float(checkpoint.factor))
        writer.add_rope_scaling_orig_ctx_len(int(checkpoint.original_length))
        writer.add_rope_scaling_finetuned(True)


def _add_vocabulary(writer: Any, model_dir: Path, chat_template: str) -> int:
    from zhllama.checkpoints.gguf.vocab import read_vocabulary

    vocab = read_vocabulary(model_dir)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(vocab.pieces)
    writer.add_token_scores(vocab.scores)
    writer.add_token_types(vocab.types)
    writer.add_bos_token_id(vocab.bos_id)
    writer.add_eos_token_id(vocab.eos_id)
    writer.add_unk_token_id(vocab.unk_id)
    if vocab.pad_id is not None:
        writer.add_pad_token_id(vocab.pad_id)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(vocab.add_space_prefix)
    writer.add_remove_extra_whitespaces(vocab.remove_extra_whitespaces)
    writer.add_chat_template(chat_template)
    return len(vocab.pieces)


def _add_tensors(writer: Any, model_dir: Path, config: dict[str, Any], dtype: str) -> None:
    import numpy as np
    from safetensors import safe_open

    from zhllama.checkpoints.gguf.tensors import gguf_name, to_gguf_layout

    n_heads = int(config["num_attention_heads"])
    n_kv_heads = int(config.get("num_key_value_heads") or n_heads)
    for file in sorted(model_dir.glob("*.safetensors")):
        with safe_open(file, framework="pt") as tensors:
            for hf_name in tensors.keys():  # noqa: SIM118 - safe_open is not a mapping
                name = gguf_name(hf_name)
                if name is None:
                    continue
                weight = tensors.get_tensor(hf_name).float().numpy()
                weight = to_gguf_layout(hf_name, weight, n_heads, n_kv_heads)
                # llama.cpp wants norms (1-D) in f32 whatever the file type
                if dtype == "f16" and weight.ndim > 1:
                    weight = weight.astype(np.float16)
                writer.add_tensor(name, np.ascontiguousarray(weight))


def export_gguf(
    model_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    dtype: str = "f32",
    template: str = "alpaca-2",
) -> Path:
    """Convert ``model_dir`` (config.json, safetensors, tokenizer.model) into the GGUF file ``out``.

    ``dtype`` f32 keeps bf16/f32 weights exact (llama.cpp then computes what transformers does in
    float32); f16 halves the file. The template's with-BOS Jinja goes into
    ``tokenizer.chat_template`` for ``llama-server --jinja``. The file appears atomically.
    """
    import gguf

    from zhllama.core.templates import get_template

    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown GGUF dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise ModelLoadError(f"model folder {str(folder)!r} does not exist: pass a local Hugging Face folder")
    config = _config(folder)
    check_model_folder(folder)
    target = Path(out).expanduser()
    if not target.parent.is_dir():
        raise ModelLoadError(f"folder {str(target.parent)!r} does not exist: create it or choose another OUT")
    file_type = gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16
    with gguf_file_writer(target, "llama") as writer:
        _add_metadata(writer, config, folder.name, int(file_type))
        vocab_size = _add_vocabulary(writer, folder, get_template(template).chat_template_with_bos)
        if vocab_size != int(config["vocab_size"]):
            raise ModelLoadError(
                f"tokenizer.model has {vocab_size} pieces but config.json says vocab_size "
                f"{config['vocab_size']}: put the model's own tokenizer.model in the folder"
            )
        _add_tensors(writer, folder, config, dtype)
    return target

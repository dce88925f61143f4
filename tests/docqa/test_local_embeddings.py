"""`--embeddings PATH`: a local sentence-transformers folder is loaded offline and used for retrieval.

No real embedding model is available offline here, so the test writes a small, randomly initialised
BERT encoder in the sentence-transformers layout (``modules.json``, ``0_Transformer/``,
``1_Pooling/config.json``): what is checked is the loading and pooling path, not the model's quality.
"""

import json

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel, BertTokenizerFast

from zhllama.docqa.dense import SentenceTransformerEncoder, load_encoder
from zhllama.docqa.ingest import ingest
from zhllama.docqa.retrieval import Retriever
from zhllama.errors import DocQAError

TEXTS = ["长城很长。", "熊猫吃竹子。", "北京地铁通车。"]


def write_sentence_transformers_folder(root, pooling: str = "mean"):
    chars = sorted({ch for text in TEXTS for ch in text})
    vocab = root / "vocab.txt"
    root.mkdir(parents=True)
    vocab.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n", encoding="utf-8"
    )
    transformer = root / "0_Transformer"
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=5 + len(chars),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(transformer)
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(transformer)
    (root / "1_Pooling").mkdir()
    mode = "pooling_mode_mean_tokens" if pooling == "mean" else "pooling_mode_cls_token"
    (root / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, mode: True}))
    (root / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "0_Transformer",
                    "type": "sentence_transformers.models.Transformer",
                },
                {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            ]
        )
    )
    return root


@pytest.fixture(scope="module")
def st_folder(tmp_path_factory):
    return write_sentence_transformers_folder(tmp_path_factory.mktemp("st") / "tiny-st")


def test_a_local_folder_gives_unit_vectors_one_per_text(st_folder):
    encoder = load_encoder(str(st_folder))
    assert isinstance(encoder, SentenceTransformerEncoder) and encoder.semantic
    vectors = encoder.encode_passages(TEXTS)
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(encoder.encode_queries(TEXTS[:1])[0], vectors[0], rtol=1e-5)


def test_the_pooling_config_decides_mean_or_cls(tmp_path, st_folder):
    cls_folder = write_sentence_transformers_folder(tmp_path / "cls", pooling="cls")
    mean = load_encoder(str(st_folder)).encode_passages(TEXTS[:1])
    cls = load_encoder(str(cls_folder)).encode_passages(TEXTS[:1])
    assert not np.allclose(mean, cls)


def test_a_store_ingested_with_local_embeddings_answers_dense_queries(
    tmp_path, st_folder, store, count_tokens, settings
):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i, text in enumerate(TEXTS):
        (docs / f"{i}.txt").write_text(text, encoding="utf-8")
    encoder = load_encoder(str(st_folder))
    ingest([docs], store, count_tokens, settings, encoder)
    hits = Retriever(store, mode="dense").retrieve("熊猫吃竹子。", k=3)
    assert hits[0].text == "熊猫吃竹子。", "the identical sentence is the nearest vector"
    assert hits[0].dense_score is not None


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(DocQAError, match="not a local model folder"):
        load_encoder(str(tmp_path))

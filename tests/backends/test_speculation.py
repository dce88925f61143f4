"""Speculative decoding in each local runtime: the same greedy tokens as without it, faster or not.

Every runtime verifies each proposed token against the model, so greedy output must not change:
transformers' assisted generation (a draft model, prompt lookup) and llama-cpp-python's draft
models (prompt lookup, a draft GGUF), with and without the repetition penalty. The draft is the
tiny model's own first layer (``derive_draft``); a draft of another vocabulary is refused.
"""

import json

import pytest

from zhllama.backends import LlamaCppBackend, TransformersBackend
from zhllama.backends.protocol import BackendError
from zhllama.checkpoints.draft import derive_draft
from zhllama.core.sampling import Sampling
from zhllama.errors import ModelLoadError

QUOTING = (
    "根据下面的文字回答问题。\n林黛玉是贾母的外孙女，自幼体弱多病，寄居在荣国府。"
    "林黛玉是贾母的外孙女，自幼体弱多病。\n问题：林黛玉是谁？"
)  # a document-QA style prompt whose answer can quote it: prompt lookup finds matches
PROMPTS = ["续写下面的文字：话说天下大势，分久必合，合久必分。", QUOTING]
PENALTIES = [1.0, 1.1]


def greedy(backend, question, penalty):
    sampling = Sampling(repetition_penalty=penalty, max_new_tokens=16)
    completion = backend.complete([{"role": "user", "content": question}], sampling=sampling, greedy=True)
    return completion.text, completion.completion_tokens, completion.finish_reason


@pytest.fixture(scope="module")
def without_speculation():
    """``without_speculation(backend, question, penalty)``: the plain greedy reply, computed once."""
    replies = {}

    def reply(backend, question, penalty):
        key = (backend.name, question, penalty)
        if key not in replies:
            replies[key] = greedy(backend, question, penalty)
        return replies[key]

    return reply


@pytest.fixture(scope="module")
def transformers_speculating(transformers_backend, tiny_draft_dir):
    draft = TransformersBackend.from_pretrained(tiny_draft_dir).model
    model, tokenizer = transformers_backend.model, transformers_backend.tokenizer
    return {
        "draft": TransformersBackend(model, tokenizer, draft_model=draft),
        "lookup": TransformersBackend(model, tokenizer, lookup=4),
    }


@pytest.fixture(scope="module")
def llama_cpp_speculating(tiny_gguf, tiny_draft_gguf):
    return {
        "draft": LlamaCppBackend.from_gguf(tiny_gguf, n_threads=2, draft=tiny_draft_gguf),
        "lookup": LlamaCppBackend.from_gguf(tiny_gguf, n_threads=2, lookup=4),
    }


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("question", PROMPTS)
@pytest.mark.parametrize("how", ["draft", "lookup"])
def test_transformers_speculation_gives_the_greedy_tokens(
    transformers_backend, transformers_speculating, without_speculation, how, question, penalty
):
    expected = without_speculation(transformers_backend, question, penalty)
    assert greedy(transformers_speculating[how], question, penalty) == expected


@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("question", PROMPTS)
@pytest.mark.parametrize("how", ["draft", "lookup"])
def test_llama_cpp_speculation_gives_the_greedy_tokens(
    llama_cpp_backend, llama_cpp_speculating, without_speculation, how, question, penalty
):
    expected = without_speculation(llama_cpp_backend, question, penalty)
    assert greedy(llama_cpp_speculating[how], question, penalty) == expected


@pytest.mark.parametrize("how", ["draft", "lookup"])
def test_a_speculating_backend_constrains_to_a_json_schema_as_without(
    transformers_backend, llama_cpp_backend, transformers_speculating, llama_cpp_speculating, how
):
    """Grammar state follows accepted tokens only: a schema-constrained greedy reply is the same document
    with speculation on (transformers generates it without speculation, llama.cpp with)."""
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 4}},
        "required": ["name"],
        "additionalProperties": False,
    }
    sampling = Sampling(max_new_tokens=24)
    for plain, speculating in [
        (transformers_backend, transformers_speculating[how]),
        (llama_cpp_backend, llama_cpp_speculating[how]),
    ]:
        replies = [
            backend.complete(
                [{"role": "user", "content": QUOTING}], sampling=sampling, greedy=True, json_schema=schema
            )
            for backend in (plain, speculating)
        ]
        assert set(json.loads(replies[1].text)) == {"name"}
        assert replies[0].text == replies[1].text


def test_a_derived_draft_is_the_models_first_layers_with_its_embeddings_and_head(
    tiny_draft_dir, tiny_model_dir
):
    from safetensors import safe_open

    config = json.loads((tiny_draft_dir / "config.json").read_text())
    assert (
        config["num_hidden_layers"] == 1 and config["vocab_size"] == 55296 and config["tie_word_embeddings"]
    )
    with (
        safe_open(tiny_draft_dir / "model.safetensors", "pt") as draft,
        safe_open(tiny_model_dir / "model.safetensors", "pt") as model,
    ):
        names = set(draft.keys())
        assert "model.embed_tokens.weight" in names and "model.norm.weight" in names
        assert not any(name.startswith("model.layers.1.") for name in names)
        for name in names:
            assert draft.get_tensor(name).equal(model.get_tensor(name)), name
    assert (tiny_draft_dir / "tokenizer.model").read_bytes() == (
        tiny_model_dir / "tokenizer.model"
    ).read_bytes()


def test_a_draft_needs_fewer_layers_than_the_model_and_a_new_folder(tiny_model_dir, tiny_draft_dir, tmp_path):
    with pytest.raises(ModelLoadError, match=r"`layers` must be 1\.\.3"):
        derive_draft(tiny_model_dir, tmp_path / "d", layers=4)
    with pytest.raises(ModelLoadError, match="exists"):
        derive_draft(tiny_model_dir, tiny_draft_dir)


def test_a_draft_of_another_vocabulary_is_refused_in_each_runtime(
    tiny_model_dir, tiny_gguf, foreign_vocabulary_dir, tmp_path
):
    from zhllama.checkpoints.gguf import export_gguf

    with pytest.raises(
        BackendError, match=r"another vocabulary than the model \(32000 pieces, the model 55296\)"
    ):
        TransformersBackend.from_pretrained(tiny_model_dir, draft=foreign_vocabulary_dir)
    foreign_gguf = export_gguf(foreign_vocabulary_dir, tmp_path / "foreign.gguf")
    with pytest.raises(
        BackendError, match=r"another vocabulary than the model \(32000 pieces, the model 55296\)"
    ):
        LlamaCppBackend.from_gguf(tiny_gguf, n_threads=2, draft=foreign_gguf)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"draft": "x", "lookup": 3}, "not both"),
        ({"lookup": 0}, "`lookup` is how many tokens prompt lookup proposes"),
        ({"lookup": True}, "`lookup` is how many tokens prompt lookup proposes"),
    ],
)
def test_bad_speculation_options_are_refused_before_loading(tiny_gguf, options, message):
    with pytest.raises(BackendError, match=message):
        LlamaCppBackend.from_gguf(tiny_gguf, **options)


def test_speculation_and_grouped_attention_are_refused_together_in_both_runtimes(tiny_model_dir, tiny_gguf):
    with pytest.raises(BackendError, match="grouped attention"):
        TransformersBackend.from_pretrained(
            str(tiny_model_dir), context=1024, rope_method="selfextend", lookup=3
        )
    with pytest.raises(BackendError, match="grouped attention"):
        LlamaCppBackend.from_gguf(tiny_gguf, context=1024, rope_method="selfextend", lookup=3)

"""Grouped attention (``selfextend``) in llama.cpp: the same greedy tokens as transformers' grouped
attention, prompts that reuse a cached prefix replayed right, and clear errors where it cannot run."""

import types

import pytest

from zhllama.backends import LlamaCppBackend, TransformersBackend, llama_cpp_grouped
from zhllama.backends.llama_cpp_server import server_argv
from zhllama.backends.protocol import BackendError
from zhllama.core.sampling import Sampling
from zhllama.patching import set_grouped_attention

CONTEXT, GROUPED = 1024, {"group": 8, "window": 32}  # (1023 // 8) + 32 - 4 = 155 < 256: valid
GREEDY = Sampling(repetition_penalty=1.0, max_new_tokens=12)
ROPE = {"context": CONTEXT, "rope_method": "selfextend", "rope_params": GROUPED}


@pytest.fixture(scope="module")
def story(assets) -> list[dict[str, str]]:
    text = (assets / "corpus" / "novel_红楼梦.txt").read_text(encoding="utf-8")
    return [{"role": "user", "content": "续写下面的文字：" + text[20000:20500]}]


@pytest.fixture(scope="module")
def grouped_llama_cpp(tiny_gguf):
    return LlamaCppBackend.from_gguf(tiny_gguf, n_threads=2, **ROPE)


@pytest.fixture(scope="module")
def grouped_transformers(tiny_model_dir):
    return TransformersBackend.from_pretrained(tiny_model_dir, **ROPE)


def test_llama_cpp_gives_transformers_greedy_tokens_under_grouped_attention(
    story, grouped_llama_cpp, grouped_transformers
):
    expected = grouped_transformers.complete(story, sampling=GREEDY, greedy=True)
    got = grouped_llama_cpp.complete(story, sampling=GREEDY, greedy=True)
    assert got.prompt_tokens == expected.prompt_tokens > 256  # past the trained length
    assert expected.completion_tokens == 12
    assert got.text == expected.text
    # and grouping is what decides them: plain attention over the same prompt writes otherwise
    set_grouped_attention(grouped_transformers.model, None)
    try:
        plain = grouped_transformers.complete(story, sampling=GREEDY, greedy=True)
    finally:
        set_grouped_attention(grouped_transformers.model, **GROUPED)
    assert plain.text != expected.text


def test_a_prompt_sharing_a_cached_prefix_is_replayed_from_its_start(story, grouped_llama_cpp):
    """llama-cpp-python reuses the longest cached prefix; grouped positions cannot, so it replays."""
    short = [{"role": "user", "content": story[0]["content"][:60]}]  # past the window, cheap to replay
    first = grouped_llama_cpp.complete(short, sampling=GREEDY, greedy=True).text
    longer = [{"role": "user", "content": short[0]["content"] + "宝玉"}]
    grouped_llama_cpp.complete(longer, sampling=GREEDY, greedy=True)
    assert grouped_llama_cpp.complete(short, sampling=GREEDY, greedy=True).text == first


def test_the_plan_sets_an_f32_key_cache(grouped_llama_cpp):
    assert grouped_llama_cpp.llama.context_params.type_k == 0


def test_a_llama_cpp_python_without_the_position_api_is_named_in_the_error():
    fake = types.SimpleNamespace(llama_kv_cache_clear=None)
    with pytest.raises(
        BackendError, match=r"none of llama_memory_seq_add, llama_kv_self_seq_add, llama_kv_cache_seq_add"
    ):
        llama_cpp_grouped._seq_add(fake, context=None)


def test_a_model_whose_cache_cannot_shift_is_refused():
    fake = types.SimpleNamespace(llama_memory_seq_add=print, llama_memory_can_shift=lambda memory: False)
    with pytest.raises(BackendError, match="llama_memory_can_shift is false"):
        llama_cpp_grouped._seq_add(fake, context=types.SimpleNamespace(memory=object()))


def test_llama_cpp_pythons_server_refuses_it_with_the_reason(tiny_gguf):
    with pytest.raises(
        BackendError, match=r"'selfextend' changes the attention.*in-process llama.cpp backend"
    ):
        server_argv(["--model", str(tiny_gguf), "--context", "1024", "--rope-method", "selfextend"])

"""llama.cpp on the converted GGUF computes what transformers computes: the same greedy text.

Greedy decoding without a repetition penalty: llama.cpp's repeat penalty only sees generated tokens
in a window, transformers' sees the prompt too (see docs/backends.md), so a penalty would compare
two different algorithms.
"""

import pytest

from zhllama.backends import LlamaCppBackend
from zhllama.core.sampling import Sampling

GREEDY_16 = Sampling(repetition_penalty=1.0, max_new_tokens=16)
PROMPTS = [
    "续写下面的文字：话说天下大势，分久必合，合久必分。",
    "续写下面的文字：那孙悟空",
    "续写下面的文字：宋江道",
    "床前明月光，",
]


@pytest.mark.parametrize("question", PROMPTS)
def test_llama_cpp_and_transformers_give_the_same_greedy_16_tokens(
    question, transformers_backend, llama_cpp_backend
):
    messages = [{"role": "user", "content": question}]
    expected = transformers_backend.complete(messages, sampling=GREEDY_16, greedy=True)
    got = llama_cpp_backend.complete(messages, sampling=GREEDY_16, greedy=True)
    print(f"{question!r} -> {expected.text!r}")
    assert expected.completion_tokens == 16
    assert got.text == expected.text
    assert got.prompt_tokens == expected.prompt_tokens


def test_the_repetition_penalties_of_the_two_runtimes_are_different_algorithms(
    transformers_backend, llama_cpp_backend
):
    """transformers penalises the prompt's tokens too, llama-cpp-python only the reply's (see docs)."""
    messages = [{"role": "user", "content": "床前明月光，"}]
    penalised = Sampling(repetition_penalty=1.1, max_new_tokens=16)
    in_transformers = transformers_backend.complete(messages, sampling=penalised, greedy=True).text
    in_llama_cpp = llama_cpp_backend.complete(messages, sampling=penalised, greedy=True).text
    assert in_transformers != in_llama_cpp
    assert in_llama_cpp == llama_cpp_backend.complete(messages, sampling=GREEDY_16, greedy=True).text


def test_a_longer_context_applies_the_rope_plans_llama_cpp_settings(tiny_gguf):
    backend = LlamaCppBackend.from_gguf(tiny_gguf, context=512, n_threads=2)
    assert backend.context_window == 512
    # the tiny model is plain RoPE: llama.cpp gets the fixed-NTK base for 512 tokens (alpha 3)
    assert backend.llama.context_params.rope_freq_base == pytest.approx(10000 * 3 ** (32 / 30), rel=1e-6)
    messages = [{"role": "user", "content": "天下大势，" * 60}]  # 241 tokens + the template: past 256
    completion = backend.complete(messages, sampling=Sampling(max_new_tokens=4), greedy=True)
    assert completion.prompt_tokens > 256
    assert completion.completion_tokens == 4

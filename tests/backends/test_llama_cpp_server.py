"""The ``chinese-alpaca-2`` chat format and llama-cpp-python's OpenAI-compatible server.

The server runs as ``python -m zhllama.backends.llama_cpp_server`` (which registers the chat
format in the server's process), on a free port of 127.0.0.1, for the whole session.
"""

import json
import urllib.request

import pytest

from zhllama.backends import BackendError, OpenAICompatibleBackend
from zhllama.backends.llama_cpp_chat_format import register_chat_formats
from zhllama.backends.llama_cpp_server import server_argv
from zhllama.core.sampling import Sampling

GREEDY_12 = Sampling(repetition_penalty=1.0, max_new_tokens=12)
MESSAGES = [
    {"role": "system", "content": "你是一个历史学家。"},
    {"role": "user", "content": "请介绍一下曹操。</s>"},
]


def test_the_launcher_adds_the_chat_format_and_the_models_context(tiny_gguf):
    args = server_argv(["--model", str(tiny_gguf), "--port", "8001"])
    assert args[:2] == ["--model", str(tiny_gguf)]
    assert args[args.index("--chat_format") + 1] == "chinese-alpaca-2"
    assert args[args.index("--n_ctx") + 1] == "256"
    longer = server_argv(["--model", str(tiny_gguf), "--context", "512"])
    assert longer[longer.index("--rope_freq_base") + 1].startswith("32279.68")
    assert server_argv(["--model", "m.gguf", "--n_ctx", "64", "--chat_format", "llama-2"])[-4:] == [
        "--n_ctx",
        "64",
        "--chat_format",
        "llama-2",
    ]


def test_the_registered_chat_format_prompts_llama_cpp_with_zhllamas_ids(llama_cpp_backend):
    from llama_cpp import llama_chat_format

    assert register_chat_formats() == ["chinese-alpaca-2", "chinese-alpaca-2-long"]
    handler = llama_chat_format.get_chat_completion_handler("chinese-alpaca-2")
    response = handler(
        llama=llama_cpp_backend.llama, messages=MESSAGES, temperature=0.0, max_tokens=12, repeat_penalty=1.0
    )
    expected = llama_cpp_backend.complete(MESSAGES, sampling=GREEDY_12, greedy=True)
    assert response["choices"][0]["message"]["content"].removeprefix(" ") == expected.text
    assert response["usage"]["prompt_tokens"] == expected.prompt_tokens


def test_a_chat_round_trip_through_the_server_matches_in_process_llama_cpp(server_backend, llama_cpp_backend):
    expected = llama_cpp_backend.complete(MESSAGES, sampling=GREEDY_12, greedy=True)
    pieces: list[str] = []
    got = server_backend.complete(MESSAGES, sampling=GREEDY_12, greedy=True, on_text=pieces.append)
    assert got.text == expected.text
    assert "".join(pieces) == got.text
    assert got.prompt_tokens == expected.prompt_tokens  # the server's own count: our ids reached it


def test_text_prompts_work_for_ordinary_text_and_refuse_typed_control_strings(
    llama_cpp_server, llama_cpp_backend, tokenizer_dir
):
    text_backend = OpenAICompatibleBackend(
        llama_cpp_server.base_url, tokenizer_dir, prompt_format="text", context_window=256
    )
    plain = [{"role": "user", "content": "请介绍一下曹操。"}]
    expected = llama_cpp_backend.complete(plain, sampling=GREEDY_12, greedy=True)
    assert text_backend.complete(plain, sampling=GREEDY_12, greedy=True).text == expected.text
    with pytest.raises(BackendError, match="control token"):
        text_backend.complete(MESSAGES, sampling=GREEDY_12)


def test_llama_cpp_pythons_server_refuses_token_ids_and_the_error_says_what_to_use(
    llama_cpp_server, tokenizer_dir
):
    ids_backend = OpenAICompatibleBackend(llama_cpp_server.base_url, tokenizer_dir, context_window=256)
    with pytest.raises(BackendError, match="prompt_format='chat'"):
        ids_backend.complete(MESSAGES, sampling=GREEDY_12)


def test_the_model_name_comes_from_the_servers_model_list(server_backend, llama_cpp_server):
    with urllib.request.urlopen(f"{llama_cpp_server.base_url}/models") as response:
        listed = json.load(response)["data"]
    assert server_backend.model == listed[0]["id"]


def test_a_server_that_is_not_running_is_reported_with_the_address(tokenizer_dir):
    from zhllama.backends.llama_cpp_server import free_port

    nowhere = OpenAICompatibleBackend(f"http://127.0.0.1:{free_port()}/v1", tokenizer_dir, context_window=256)
    with pytest.raises(BackendError, match="cannot reach the server"):
        nowhere.complete([{"role": "user", "content": "你好"}])

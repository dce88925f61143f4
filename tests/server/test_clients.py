"""The clients people already use, unchanged, against `zhllama serve`: the `openai` package, LangChain's
ChatOpenAI, LlamaIndex's OpenAILike, and privateGPT's openailike profile through its own loader."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openai
import pytest
import yaml
from server_process import TINY

QUESTION = "续写下面的文字：话说天下大势，分久必合，合久必分。"
PRIVATEGPT = (
    Path(os.environ.get("ZHLLAMA_APPS", Path(__file__).parents[3] / "shared" / "apps")) / "private-gpt-0.6.2"
)


@pytest.fixture(scope="module")
def greedy_reply(served):
    """What the server answers QUESTION with, greedy, 8 tokens: every client must get exactly this."""
    with served.client() as client:
        body = {
            "model": TINY,
            "messages": [{"role": "user", "content": QUESTION}],
            "temperature": 0,
            "max_tokens": 8,
        }
        return client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]


@pytest.fixture
def client(served):
    return openai.OpenAI(base_url=served.api, api_key=served.api_key, max_retries=0)


def test_the_openai_package_chats_streams_completes_and_lists(client, greedy_reply):
    messages = [{"role": "user", "content": QUESTION}]
    reply = client.chat.completions.create(model=TINY, messages=messages, temperature=0, max_tokens=8)
    assert reply.choices[0].message.content == greedy_reply and reply.usage.completion_tokens == 8
    stream = client.chat.completions.create(
        model=TINY,
        messages=messages,
        temperature=0,
        max_tokens=8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == greedy_reply
    assert chunks[-1].usage.total_tokens == reply.usage.total_tokens
    completion = client.completions.create(model=TINY, prompt=QUESTION, temperature=0, max_tokens=8)
    assert completion.choices[0].text == greedy_reply
    assert [m.id for m in client.models.list()] == [TINY, "zhllama-docqa"]


def test_the_openai_package_raises_its_own_errors(served, client):
    with pytest.raises(openai.NotFoundError, match="tiny-zh-llama"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "你好"}])
    with pytest.raises(openai.BadRequestError, match="context window"):
        client.chat.completions.create(model=TINY, messages=[{"role": "user", "content": "长" * 600}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model=TINY, messages=[{"role": "user", "content": "x"}], temperature=9)
    anonymous = openai.OpenAI(base_url=served.api, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="API key"):
        anonymous.models.list()


def test_the_docqa_model_through_the_openai_package_keeps_its_sources(served_with_examples):
    client = openai.OpenAI(
        base_url=served_with_examples.api, api_key=served_with_examples.api_key, max_retries=0
    )
    reply = client.chat.completions.create(
        model="zhllama-docqa",
        messages=[{"role": "user", "content": "长城有多长？"}],
        max_tokens=6,
        temperature=0,
    )
    assert "[1] 长城.md:" in reply.choices[0].message.content
    assert reply.model_extra["sources"][0]["name"] == "长城.md"


def test_langchain_chat_openai_invokes_and_streams(served, greedy_reply):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(model=TINY, base_url=served.api, api_key=served.api_key, temperature=0, max_tokens=8)
    message = chat.invoke(QUESTION)
    assert message.content == greedy_reply
    assert message.usage_metadata["output_tokens"] == 8
    assert "".join(chunk.content for chunk in chat.stream(QUESTION)) == greedy_reply


def test_llamaindex_openai_like_completes_chats_and_streams(served, greedy_reply):
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model=TINY,
        api_base=served.api,
        api_key=served.api_key,
        is_chat_model=True,
        context_window=256,
        max_tokens=8,
        temperature=0,
    )
    assert llm.complete(QUESTION).text == greedy_reply
    assert llm.chat([ChatMessage(role="user", content=QUESTION)]).message.content == greedy_reply
    streamed = list(llm.stream_chat([ChatMessage(role="user", content=QUESTION)]))
    assert streamed[-1].message.content == greedy_reply


def test_zhllamas_own_server_backend_chains_through_it(served, greedy_reply, tokenizer_dir):
    """``OpenAICompatibleBackend`` reads the context from ``max_model_len``; ``chat`` lets the server
    apply the template (the server refuses token-id prompts, which ``prompt_format="ids"`` sends)."""
    from zhllama.backends import OpenAICompatibleBackend
    from zhllama.core.sampling import Sampling

    backend = OpenAICompatibleBackend(served.api, tokenizer_dir, prompt_format="chat", api_key=served.api_key)
    assert backend.model == TINY and backend.context_window == 256
    completion = backend.complete(
        [{"role": "user", "content": QUESTION}], sampling=Sampling(max_new_tokens=8), greedy=True
    )
    assert completion.text == greedy_reply and completion.completion_tokens == 8


PRIVATEGPT_CHECK = """
import json
from llama_index.core.llms import ChatMessage
from private_gpt.components.llm.llm_component import LLMComponent
from private_gpt.settings.settings import settings

llm = LLMComponent(settings()).llm
reply = llm.chat([ChatMessage(role="user", content={question!r})])
streamed = list(llm.stream_complete({question!r}))[-1].text
print(json.dumps({{"class": type(llm).__name__, "chat": reply.message.content, "stream": streamed}}))
"""


def test_privategpt_openailike_profile_talks_to_the_server(served, greedy_reply, tmp_path, run_cli):
    """privateGPT v0.6.2's own settings loader and LLMComponent, set up by `zhllama privategpt profile`."""
    assert PRIVATEGPT.is_dir(), (
        f"privateGPT v0.6.2 not found at {PRIVATEGPT}: set ZHLLAMA_APPS to the shared apps"
    )
    checkout = tmp_path / "private-gpt"  # the shared snapshot is read-only
    shutil.copytree(PRIVATEGPT, checkout)
    run_cli(
        "privategpt", "profile", "--out", checkout, "--mode", "openailike", "--model", TINY,
        "--privategpt-version", "0.6", "--api-base", served.api, "--context", "256",
    )  # fmt: skip
    profile = checkout / "settings-zhllama.yaml"
    settings = yaml.safe_load(profile.read_text(encoding="utf-8"))
    settings["openai"]["api_key"] = served.api_key
    settings["llm"].update(max_new_tokens=8, temperature=0)  # what a user sets for a short, repeatable reply
    profile.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    env = {
        **os.environ,
        "PGPT_PROFILES": "zhllama",
        "PGPT_SETTINGS_FOLDER": str(checkout),
        "PYTHONPATH": os.pathsep.join([str(checkout), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", PRIVATEGPT_CHECK.format(question=QUESTION)],
        capture_output=True,
        text=True,
        env=env,
        cwd=checkout,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"class": "OpenAILike", "chat": greedy_reply, "stream": greedy_reply}

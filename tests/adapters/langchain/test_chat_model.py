"""ChatZhllama behaves like a native LangChain chat model: invoke, stream, batch, async, stops,
callbacks, token counts with the model's own tokenizer, and upstream's sampling defaults."""

import asyncio

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import base as language_model_base
from langchain_core.messages import AIMessage, ChatMessage, HumanMessage, SystemMessage

from zhllama.adapters.langchain import ChatZhllama
from zhllama.core.sampling import Sampling
from zhllama.core.templates import encode_messages, get_template
from zhllama.errors import TemplateError

QUESTION = "续写下面的文字：话说天下大势，分久必合，合久必分。"


class TokenRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.started = 0

    def on_chat_model_start(self, serialized, messages, **kwargs) -> None:
        self.started += 1

    def on_llm_new_token(self, token: str, **kwargs) -> None:
        self.tokens.append(token)


def test_defaults_are_upstream_sampling_and_the_alpaca_2_template(transformers_backend):
    llm = ChatZhllama(backend=transformers_backend)
    assert (llm.temperature, llm.top_k, llm.top_p, llm.repetition_penalty, llm.max_new_tokens) == (
        0.2,
        40,
        0.9,
        1.1,
        512,
    )
    assert llm.template == "alpaca-2"
    assert llm._llm_type == "zhllama-transformers"
    assert llm._identifying_params["backend"] == "transformers"


def test_invoke_returns_the_backends_greedy_reply_with_usage(llm, transformers_backend):
    message = llm.invoke(QUESTION)
    expected = transformers_backend.complete(
        [{"role": "user", "content": QUESTION}],
        sampling=Sampling(repetition_penalty=1.0, max_new_tokens=8),
        greedy=True,
    )
    assert isinstance(message, AIMessage)
    assert message.content == expected.text
    prompt_tokens = expected.prompt_tokens
    assert message.usage_metadata == {
        "input_tokens": prompt_tokens,
        "output_tokens": 8,
        "total_tokens": prompt_tokens + 8,
    }
    assert message.response_metadata["finish_reason"] == "length"


def test_stream_yields_pieces_that_join_to_the_invoked_reply(llm):
    chunks = list(llm.stream(QUESTION))
    assert len([chunk for chunk in chunks if chunk.content]) > 1
    assert "".join(chunk.content for chunk in chunks) == llm.invoke(QUESTION).content
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.usage_metadata["output_tokens"] == 8


def test_batch_answers_each_input_in_order(llm):
    questions = [QUESTION, "却说宝玉"]
    assert [message.content for message in llm.batch(questions)] == [llm.invoke(q).content for q in questions]


def test_ainvoke_and_astream_give_the_same_reply(llm):
    async def run() -> tuple[str, str]:
        invoked = await llm.ainvoke(QUESTION)
        streamed = [chunk.content async for chunk in llm.astream(QUESTION)]
        return invoked.content, "".join(streamed)

    invoked, streamed = asyncio.run(run())
    assert invoked == streamed == llm.invoke(QUESTION).content


def test_stop_sequences_cut_the_reply_per_call_and_per_model(llm, transformers_backend):
    full = llm.invoke(QUESTION).content
    assert "。" in full
    cut = llm.invoke(QUESTION, stop=["。"])
    assert cut.content == full.split("。")[0]
    assert cut.response_metadata["finish_reason"] == "stop"
    assert cut.response_metadata["stop_sequence"] == "。"
    stopping = ChatZhllama(backend=transformers_backend, greedy=True, max_new_tokens=8, stop=["。"])
    assert "".join(chunk.content for chunk in stopping.stream(QUESTION)) == stopping.invoke(QUESTION).content


def test_callbacks_receive_the_tokens_of_invoke_and_of_stream(llm):
    on_invoke, on_stream = TokenRecorder(), TokenRecorder()
    content = llm.invoke(QUESTION, config={"callbacks": [on_invoke]}).content
    list(llm.stream(QUESTION, config={"callbacks": [on_stream]}))
    assert on_invoke.started == on_stream.started == 1
    assert len(on_invoke.tokens) > 1
    assert "".join(on_invoke.tokens) == "".join(on_stream.tokens) == content


def test_per_call_settings_override_the_models(llm):
    assert llm.invoke(QUESTION, max_new_tokens=3).usage_metadata["output_tokens"] == 3
    assert llm.invoke(QUESTION, max_tokens=2).usage_metadata["output_tokens"] == 2
    sampled = ChatZhllama(backend=llm.backend, max_new_tokens=8, repetition_penalty=1.0)
    assert sampled.invoke(QUESTION, temperature=0).content == llm.invoke(QUESTION).content


def test_token_counts_use_the_models_tokenizer_and_never_gpt2(llm, tokenizer, monkeypatch):
    def no_gpt2(*args, **kwargs):
        raise AssertionError("LangChain's GPT-2 fallback was used")

    monkeypatch.setattr(language_model_base, "get_tokenizer", no_gpt2)
    monkeypatch.setattr(language_model_base, "_get_token_ids_default_method", no_gpt2)
    text = "话说天下大势，分久必合，合久必分。"
    assert llm.get_num_tokens(text) == len(tokenizer.sp_model.encode(text)) == 16
    assert llm.get_token_ids(text) == list(tokenizer.sp_model.encode(text))
    messages = [
        SystemMessage("你是历史学家。"),
        HumanMessage("曹操是谁？"),
        AIMessage("魏王。"),
        HumanMessage(text),
    ]
    zh = [
        {"role": "system", "content": "你是历史学家。"},
        {"role": "user", "content": "曹操是谁？"},
        {"role": "assistant", "content": "魏王。"},
        {"role": "user", "content": text},
    ]
    assert llm.get_num_tokens_from_messages(messages) == len(encode_messages(tokenizer, get_template(), zh))


def test_a_conversation_with_history_is_rendered_through_the_template(recording_llm):
    llm, backend = recording_llm()
    llm.invoke(
        [
            SystemMessage("你是历史学家。"),
            HumanMessage("曹操是谁？"),
            AIMessage("魏王。"),
            HumanMessage("刘备呢？"),
        ]
    )
    assert backend.prompts == [
        "[INST] <<SYS>>\n你是历史学家。\n<</SYS>>\n\n曹操是谁？ [/INST] 魏王。</s><s>[INST] 刘备呢？ [/INST]"
    ]


def test_messages_the_template_cannot_render_are_refused_clearly(llm):
    with pytest.raises(TemplateError, match="ChatMessage cannot be rendered"):
        llm.invoke([HumanMessage("hi"), ChatMessage("42", role="critic")])


def test_the_same_chat_model_runs_on_llama_cpp_and_on_an_openai_compatible_server(
    llm, llama_cpp_backend, server_backend
):
    expected = llm.invoke(QUESTION).content
    settings = {"greedy": True, "repetition_penalty": 1.0, "max_new_tokens": 8}
    on_llama_cpp = ChatZhllama(backend=llama_cpp_backend, **settings)
    assert on_llama_cpp.invoke(QUESTION).content == expected
    on_server = ChatZhllama(backend=server_backend, **settings)
    assert "".join(chunk.content for chunk in on_server.stream(QUESTION)) == expected
    assert on_server._llm_type == "zhllama-openai-compatible"


def test_the_adapter_reports_what_it_injects():
    from zhllama import plugins

    status = plugins.merged("register_adapters", {})["langchain"].value.status()
    assert status["importable"] is True
    assert "ChatZhllama" in status["injects"] and "qa_chain" in status["injects"]

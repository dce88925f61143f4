"""The conventions LangChain users rely on, each run exactly as the issue reported it broken:
usage callbacks, the cache key, trim_messages, image parts, tools, plain-question chains, async."""

import asyncio

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.globals import set_llm_cache
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage, trim_messages
from langchain_core.tools import tool

from zhllama.adapters.langchain import ChatZhllama, DocQARetriever, qa_chain
from zhllama.backends import BackendError
from zhllama.errors import TemplateError

QUESTION = "续写下面的文字：话说天下大势，分久必合，合久必分。"


@tool
def magic_function(input: int) -> int:
    """Apply a magic function to an input."""
    return input + 2


@tool
def get_weather(location: str) -> str:
    """Get the weather at a location."""
    return "晴"


def test_usage_reaches_get_usage_metadata_callback_keyed_by_the_model(llm):
    with get_usage_metadata_callback() as callback:
        message = llm.invoke("你好")
    assert message.response_metadata["model_name"] == llm.backend.model_name
    assert callback.usage_metadata == {llm.backend.model_name: message.usage_metadata}
    with get_usage_metadata_callback() as streamed:
        list(llm.stream("你好"))
    assert streamed.usage_metadata == callback.usage_metadata


@pytest.fixture
def cache():
    set_llm_cache(InMemoryCache())
    yield
    set_llm_cache(None)


def test_the_cache_key_holds_the_model_and_the_seed(transformers_backend, cache):
    settings = {"backend": transformers_backend, "temperature": 1.0, "max_new_tokens": 12}
    first, second = ChatZhllama(seed=1, **settings), ChatZhllama(seed=2, **settings)
    assert first.invoke(QUESTION).content != second.invoke(QUESTION).content
    assert first.invoke(QUESTION).content == first.invoke(QUESTION).content  # and the cache still hits
    key = first._get_llm_string()
    assert transformers_backend.model_name in key and "'seed', 1" in key
    assert first._get_ls_params()["ls_model_name"] == transformers_backend.model_name


def test_trim_messages_counts_any_partial_list_with_the_model(llm):
    messages = [
        SystemMessage("你是助手。"),
        HumanMessage("你好"),
        AIMessage("你好！有什么事？"),
        HumanMessage("再见"),
    ]
    trimmed = trim_messages(
        messages, max_tokens=60, token_counter=llm, strategy="last", include_system=True, start_on="human"
    )
    assert trimmed[0] == messages[0] and trimmed[-1] == messages[-1]
    assert llm.get_num_tokens_from_messages(trimmed) <= 60
    assert llm.get_num_tokens_from_messages([messages[0]]) > 0  # a lone system message counts too
    assert llm.get_num_tokens_from_messages(messages[2:3]) > llm.get_num_tokens("你好！有什么事？")


def test_non_text_parts_are_refused_with_what_to_do(llm):
    image = {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"}
    with pytest.raises(TemplateError, match="holds a image part: Chinese-Alpaca-2 reads text only"):
        llm.invoke([HumanMessage([{"type": "text", "text": "这是什么？"}, image])])


def test_bind_tools_forces_a_call_that_parses_into_tool_calls(llm):
    with_tools = llm.bind_tools([magic_function, get_weather], tool_choice="magic_function")
    message = with_tools.invoke("magic_function(3) 是多少？", max_new_tokens=128)
    (call,) = message.tool_calls
    assert call["name"] == "magic_function" and isinstance(call["args"]["input"], int)
    assert message.content == ""
    streamed = None
    for chunk in with_tools.stream("magic_function(3) 是多少？", max_new_tokens=128):
        streamed = chunk if streamed is None else streamed + chunk
    assert [c["args"] for c in streamed.tool_calls] == [call["args"]]  # greedy: the same call
    any_tool = llm.bind_tools([magic_function, get_weather], tool_choice="any").invoke(
        "天气？", max_new_tokens=128
    )
    assert any_tool.tool_calls[0]["name"] in ("magic_function", "get_weather")


def test_tools_are_listed_in_the_system_prompt_and_history_renders(recording_llm):
    llm, backend = recording_llm()
    call = {"name": "get_weather", "args": {"location": "北京"}, "id": "call_1", "type": "tool_call"}
    llm.bind_tools([get_weather]).invoke(
        [
            HumanMessage("北京天气？"),
            AIMessage("", tool_calls=[call]),
            ToolMessage("晴", tool_call_id="call_1", name="get_weather"),
        ]
    )
    (prompt,) = backend.prompts
    assert '- get_weather{"location": "string"} Get the weather at a location.' in prompt
    assert "调用工具时只回复 JSON" in prompt
    assert (
        ' [/INST] {"name": "get_weather", "arguments": {"location": "北京"}}</s>'
        "<s>[INST] 工具 get_weather 的结果：晴 [/INST]" in prompt
    )


def test_an_unknown_tool_choice_or_model_is_an_error(llm):
    with pytest.raises(ValueError, match="not one of 'auto'"):
        llm.bind_tools([magic_function], tool_choice="nope")
    with pytest.raises(BackendError, match=r"runs .* \(one loaded model\)"):
        llm.invoke("你好", model="gpt-4o")


def test_qa_chain_takes_a_plain_question(llm, examples_db):
    result = qa_chain(llm, DocQARetriever(db=str(examples_db), k=1)).invoke("长城有多长？")
    assert result["question"] == "长城有多长？"
    assert result["documents"][0].metadata["source"].endswith("长城.md")


class Heartbeat:
    """Counts 10 ms ticks of the event loop while something else runs on it."""

    def __init__(self) -> None:
        self.ticks = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(0.01)
            self.ticks += 1


async def beating(coroutine) -> tuple[object, int]:
    """``(the coroutine's result, heartbeat ticks while it ran)``: a blocked loop ticks at most once."""
    heartbeat, stop = Heartbeat(), asyncio.Event()
    beat = asyncio.create_task(heartbeat.run(stop))
    result = await coroutine
    stop.set()
    await beat
    return result, heartbeat.ticks


def test_ainvoke_and_astream_never_block_the_event_loop(transformers_backend):
    llm = ChatZhllama(backend=transformers_backend, greedy=True, max_new_tokens=48)

    async def stream() -> str:
        return "".join([chunk.content async for chunk in llm.astream(QUESTION)])

    async def main():
        return await beating(llm.ainvoke(QUESTION)), await beating(stream())

    (invoked, ticks), (streamed, stream_ticks) = asyncio.run(main())
    assert invoked.content == streamed
    assert ticks >= 10 and stream_ticks >= 10


def test_a_consumer_that_stops_reading_stops_the_generation(transformers_backend, watched):
    watched = watched(transformers_backend)
    llm = ChatZhllama(backend=watched, greedy=True, repetition_penalty=1.0, max_new_tokens=200)

    async def read_two() -> None:
        stream = llm.astream(QUESTION)
        async for _ in stream:
            break
        await stream.aclose()

    asyncio.run(read_two())
    assert watched.ended.wait(30)
    assert watched.outcome == "GenerationCancelled"

    async def cancel() -> None:
        task = asyncio.create_task(llm.ainvoke(QUESTION))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    watched.ended.clear()
    asyncio.run(cancel())
    assert watched.ended.wait(30)
    assert watched.outcome == "GenerationCancelled"

"""The conventions LlamaIndex users rely on, each run exactly as the issue reported it broken:
async that never blocks the loop, token counting handlers, image blocks, structured prediction, the
query engine on a short-context model, and Chinese files through a reader."""

import asyncio
import json
from pathlib import Path

import pytest
from llama_index.core import Settings, SimpleDirectoryReader
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from zhllama.adapters.llamaindex import DocQAEmbedding, DocQAReader, ZhllamaLLM, docqa_query_engine
from zhllama.errors import TemplateError

GREEDY = {"greedy": True, "repetition_penalty": 1.0}


async def ticks_while(coroutine) -> tuple[object, int]:
    """``(result, 10 ms heartbeat ticks while the coroutine ran)``: a blocked loop ticks at most once."""
    ticks, stop = 0, asyncio.Event()

    async def heartbeat() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    result = await coroutine
    stop.set()
    await beat
    return result, ticks


def test_acomplete_and_astream_complete_never_block_the_event_loop(transformers_backend):
    llm = ZhllamaLLM(backend=transformers_backend, max_new_tokens=48, **GREEDY)

    async def stream() -> str:
        return "".join([r.delta async for r in await llm.astream_complete("写一句诗")])

    async def chat() -> str:
        return (await llm.achat([ChatMessage(role=MessageRole.USER, content="写一句诗")])).message.content

    async def main():
        return (
            await ticks_while(llm.acomplete("写一句诗")),
            await ticks_while(stream()),
            await ticks_while(chat()),
        )

    (completed, ticks), (streamed, stream_ticks), (chatted, chat_ticks) = asyncio.run(main())
    assert completed.text == streamed == chatted == llm.complete("写一句诗").text
    assert min(ticks, stream_ticks, chat_ticks) >= 10


def test_a_consumer_that_stops_reading_stops_the_generation(transformers_backend, watched):
    watched = watched(transformers_backend)
    llm = ZhllamaLLM(backend=watched, max_new_tokens=200, **GREEDY)

    async def read_one() -> None:
        stream = await llm.astream_complete("写一首很长的诗")
        async for _ in stream:
            break
        await stream.aclose()

    asyncio.run(read_one())
    assert watched.ended.wait(30)
    assert watched.outcome == "GenerationCancelled"


def test_token_counting_handler_records_the_backends_counts(transformers_backend):
    counter = TokenCountingHandler()  # tiktoken by default: it must not be what is recorded
    llm = ZhllamaLLM(
        backend=transformers_backend, max_new_tokens=16, callback_manager=CallbackManager([counter])
    )
    response = llm.complete("中国的首都是哪里？")
    (event,) = counter.llm_token_counts
    assert (
        (event.prompt_token_count, event.completion_token_count)
        == (
            response.raw["usage"]["prompt_tokens"],
            response.raw["usage"]["completion_tokens"],
        )
        == (len(transformers_backend.prompt_ids([{"role": "user", "content": "中国的首都是哪里？"}])), 16)
    )
    mine = TokenCountingHandler(tokenizer=llm.tokenize)
    assert mine.tokenizer("中国的首都") == transformers_backend.tokenizer.sp_model.encode("中国的首都")
    previous = Settings.tokenizer
    try:
        Settings.tokenizer = llm.tokenize
        assert TokenCountingHandler().tokenizer("中国的首都") == mine.tokenizer("中国的首都")
    finally:
        Settings.tokenizer = previous


def test_an_image_block_is_refused_clearly(transformers_backend):
    llm = ZhllamaLLM(backend=transformers_backend, **GREEDY)
    message = ChatMessage(
        role=MessageRole.USER,
        blocks=[TextBlock(text="这是什么？"), ImageBlock(image=b"\x89PNG", image_mimetype="image/png")],
    )
    with pytest.raises(TemplateError, match="holds a ImageBlock: Chinese-Alpaca-2 reads text only"):
        llm.chat([message])


class Person(BaseModel):
    name: str
    age: int


def test_structured_predict_and_as_structured_llm_return_validated_objects(transformers_backend):
    llm = ZhllamaLLM(backend=transformers_backend, temperature=1.0, max_new_tokens=128, seed=3)
    prompt = PromptTemplate("介绍一位{book}里的人物。")
    person = llm.structured_predict(Person, prompt, book="红楼梦")
    assert isinstance(person, Person)
    partials = list(llm.stream_structured_predict(Person, prompt, book="红楼梦"))
    assert isinstance(partials[-1], Person) and len(partials) > 2
    structured = llm.as_structured_llm(Person)
    response = structured.chat([ChatMessage(role=MessageRole.USER, content="介绍一位人物。")])
    assert isinstance(response.raw, Person)
    assert Person.model_validate_json(response.message.content) == response.raw
    assert isinstance(asyncio.run(llm.astructured_predict(Person, prompt, book="三国")), Person)


def test_the_query_engine_sizes_its_reply_budget_from_a_256_token_window(transformers_backend, examples_db):
    llm = ZhllamaLLM(backend=transformers_backend, **GREEDY)  # max_new_tokens 512, window 256
    assert llm.metadata.num_output == 64
    engine = docqa_query_engine(llm, db=examples_db, similarity_top_k=2)
    response = engine.query("长城有多长？")
    assert Path(response.source_nodes[0].metadata["source"]).name == "长城.md"
    assert isinstance(response.response, str)


def test_simple_directory_reader_garbles_gbk_and_the_docqa_reader_does_not(examples_dir: Path):
    gbk = examples_dir / "茶叶-gbk.txt"
    (garbled,) = SimpleDirectoryReader(input_files=[gbk]).load_data()
    assert "乌龙茶" not in garbled.text  # LlamaIndex's own reader: mojibake, no error
    (document,) = DocQAReader().load_data(gbk)
    assert document.text.startswith("乌龙茶是半发酵茶") and document.metadata["encoding"] == "gb18030"
    through_simple = SimpleDirectoryReader(
        input_files=[gbk], file_extractor=DocQAReader.file_extractor()
    ).load_data()
    assert through_simple[0].text == document.text


def test_the_reader_reads_big5_utf16_html_pdf_and_docx_and_reports_what_it_skips(tmp_path, examples_dir):
    import docx

    from sample_files import two_page_pdf

    (tmp_path / "big5.txt").write_bytes("臺灣高速鐵路連接臺北與高雄。".encode("big5"))
    (tmp_path / "utf16.txt").write_bytes("长江是中国最长的河流。".encode("utf-16"))
    two_page_pdf(tmp_path / "rivers.pdf")
    word = docx.Document()
    word.add_paragraph("黄河是中国第二长河。")
    word.save(tmp_path / "黄河.docx")
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    reader = DocQAReader()
    documents = reader.load_data([tmp_path, examples_dir / "熊猫.html"])
    texts = {
        Path(d.metadata["file_path"]).name + str(d.metadata.get("page_label", "")): d.text for d in documents
    }
    assert texts["big5.txt"] == "臺灣高速鐵路連接臺北與高雄。"
    assert texts["utf16.txt"] == "长江是中国最长的河流。"
    assert (
        texts["rivers.pdf1"] == "First page about rivers."
        and texts["rivers.pdf2"] == "Second page about mountains."
    )
    assert texts["黄河.docx"] == "黄河是中国第二长河。"
    assert "大熊猫" in texts["熊猫.html"]
    assert [(Path(path).name, "unsupported" in reason) for path, reason in reader.skipped] == [
        ("picture.png", True)
    ]


def test_the_embedding_is_exported_and_embeds_like_the_store(docqa_store):
    embedding = DocQAEmbedding.from_store(docqa_store)
    assert embedding.model_name == docqa_store.embedding
    vector = embedding.get_query_embedding("长城")
    assert len(vector) == 64 and abs(sum(v * v for v in vector) - 1) < 1e-5
    assert asyncio.run(embedding.aget_text_embedding("长城")) == embedding.get_text_embedding("长城")
    assert json.dumps(DocQAEmbedding("none").get_text_embedding_batch(["长城", "黄河"]))

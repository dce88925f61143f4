"""QA and summary runnables send upstream's Chinese prompts, wrapped in the Alpaca-2 template,
to the real tiny model; each step's prompt is checked character for character."""

from operator import itemgetter

import pytest
from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda, RunnablePassthrough

from zhllama.adapters.langchain import qa_chain, summarize_chain

SYSTEM = "You are a helpful assistant. 你是一个乐于助人的助手。"
DOCS = [Document("曹操字孟德。"), Document("刘备字玄德。"), Document("孙权字仲谋。")]
QUESTION = "曹操字什么"


PREFIX = f"[INST] <<SYS>>\n{SYSTEM}\n<</SYS>>\n\n"
SUFFIX = " [/INST]"


def wrapped(instruction: str) -> str:
    return PREFIX + instruction + SUFFIX


def instruction(prompt: str) -> str:
    """The instruction inside a wrapped prompt (the inverse of ``wrapped``)."""
    assert prompt.startswith(PREFIX) and prompt.endswith(SUFFIX)
    return prompt[len(PREFIX) : -len(SUFFIX)]


def keyword_retriever():
    """A real (if simple) retriever runnable: the documents sharing a character with the question."""
    return RunnableLambda(lambda question: [d for d in DOCS if set(d.page_content) & set(question) - {"字"}])


def test_stuff_qa_sends_the_retrieved_context_then_the_question(recording_llm):
    llm, backend = recording_llm()
    result = qa_chain(llm, keyword_retriever(), kind="stuff").invoke({"question": QUESTION})
    assert backend.prompts == [wrapped(f"曹操字孟德。\n{QUESTION}")]
    assert result["documents"] == [DOCS[0]]
    assert isinstance(result["answer"], str) and result["answer"]


def test_stuff_qa_joins_several_documents_with_blank_lines(recording_llm):
    llm, backend = recording_llm()
    qa_chain(llm, kind="stuff").invoke({"question": QUESTION, "documents": DOCS[:2]})
    assert backend.prompts == [wrapped(f"曹操字孟德。\n\n刘备字玄德。\n{QUESTION}")]


def refine_step(answer: str, context: str) -> str:
    return (
        f"这是原始问题: {QUESTION}\n已有的回答: {answer}\n"
        f"现在还有一些文字，（如果有需要）你可以根据它们完善现有的回答。\n\n{context}\n\n\n请根据新的文段，进一步完善你的回答。"
    )


def test_refine_qa_starts_from_the_first_document_and_refines_with_each_next_one(recording_llm):
    llm, backend = recording_llm()
    result = qa_chain(llm, kind="refine").invoke({"question": QUESTION, "documents": DOCS})
    first, second, third = backend.prompts
    assert first == wrapped(f"以下为背景知识：\n曹操字孟德。\n请根据以上背景知识, 回答这个问题：{QUESTION}。")
    answer_1 = llm.invoke(instruction(first)).content
    assert second == wrapped(refine_step(answer_1, "刘备字玄德。"))
    answer_2 = llm.invoke(instruction(second)).content
    assert third == wrapped(refine_step(answer_2, "孙权字仲谋。"))
    assert result["answer"] == llm.invoke(instruction(third)).content


def test_map_reduce_qa_asks_each_document_then_the_joined_partial_answers(recording_llm):
    llm, backend = recording_llm()
    result = qa_chain(llm, kind="map_reduce").invoke({"question": QUESTION, "documents": DOCS})
    *mapped, reduced = backend.prompts
    assert sorted(mapped) == sorted(wrapped(f"{doc.page_content}\n{QUESTION}") for doc in DOCS)
    partials = [llm.invoke(f"{doc.page_content}\n{QUESTION}").content for doc in DOCS]
    assert reduced == wrapped("\n\n".join(partials) + f"\n{QUESTION}")
    assert result["answer"] == llm.invoke("\n\n".join(partials) + f"\n{QUESTION}").content


def test_summaries_use_upstreams_prompt_for_stuff_refine_and_map_reduce(recording_llm):
    texts = ["曹操字孟德。", "刘备字玄德。"]
    llm, backend = recording_llm()
    summarize_chain(llm, kind="stuff").invoke(texts)
    assert backend.prompts == [wrapped("请为以下文字写一段摘要:\n曹操字孟德。\n\n刘备字玄德。")]

    llm, backend = recording_llm()
    summary = summarize_chain(llm, kind="refine").invoke({"documents": [Document(t) for t in texts]})
    prompts = list(backend.prompts)
    first_summary = llm.invoke("请为以下文字写一段摘要:\n曹操字孟德。").content
    assert prompts == [
        wrapped("请为以下文字写一段摘要:\n曹操字孟德。"),
        wrapped(
            f"已有一段摘要：{first_summary}\n现在还有一些文字，（如果有需要）你可以根据它们完善现有的摘要。\n刘备字玄德。\n\n"
            "如果这段文字没有用，返回原来的摘要即可。请你生成一个最终的摘要。"
        ),
    ]
    assert isinstance(summary, str)

    llm, backend = recording_llm()
    summarize_chain(llm, kind="map_reduce").invoke(texts)
    partials = [llm.invoke(f"请为以下文字写一段摘要:\n{t}").content for t in texts]
    assert sorted(backend.prompts[:2]) == sorted(wrapped(f"请为以下文字写一段摘要:\n{t}") for t in texts)
    assert backend.prompts[2] == wrapped("请为以下文字写一段摘要:\n" + "\n\n".join(partials))


def test_the_runnables_compose_into_a_users_chain(recording_llm):
    llm, backend = recording_llm()
    chain = {"question": RunnablePassthrough()} | qa_chain(llm, keyword_retriever()) | itemgetter("answer")
    answer = chain.invoke(QUESTION)
    assert answer == llm.invoke(f"曹操字孟德。\n{QUESTION}").content
    assert backend.prompts[0] == wrapped(f"曹操字孟德。\n{QUESTION}")


def test_an_unknown_kind_or_a_missing_retriever_is_an_error(recording_llm):
    llm, _ = recording_llm()
    with pytest.raises(ValueError, match="stuff, refine, map_reduce"):
        qa_chain(llm, kind="rerank")
    with pytest.raises(ValueError, match="no retriever"):
        qa_chain(llm).invoke({"question": QUESTION})

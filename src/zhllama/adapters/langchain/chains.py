"""LCEL runnables for document QA and summarization with upstream's Chinese prompts.

``qa_chain(llm, retriever, kind)`` and ``summarize_chain(llm, kind)`` replace
``langchain_classic``'s ``RetrievalQA`` / ``load_summarize_chain`` (moved out of LangChain 1.x's
core) with plain runnables that compose into a user's chain. Every model call is one human
message holding an upstream prompt (``zhllama.core.prompts``) filled verbatim; the chat model
wraps it in the Alpaca-2 template with the default system prompt, exactly as upstream's scripts do.

- ``stuff``: all documents joined by ``document_separator`` into one prompt;
- ``refine``: the first document with the initial prompt, then one refine step per document;
- ``map_reduce``: the base prompt on each document (as a batch), then on the joined results.
"""

from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from zhllama.core import prompts
from zhllama.core.prompts import Prompt

Kind = Literal["stuff", "refine", "map_reduce"]
KINDS = ("stuff", "refine", "map_reduce")
DOCUMENT_SEPARATOR = "\n\n"


def ask(llm: BaseChatModel, prompt: Prompt) -> Runnable:
    """``{field: value, ...} -> answer text``: ``prompt`` filled, sent as one human message."""
    fill = RunnableLambda(lambda values: [HumanMessage(prompt.fill(**values))], name=prompt.name)
    return fill | llm | StrOutputParser()


def _texts(documents: Sequence[Document | str]) -> list[str]:
    return [doc.page_content if isinstance(doc, Document) else str(doc) for doc in documents]


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown chain kind {kind!r}: use one of {', '.join(KINDS)}")


def qa_chain(
    llm: BaseChatModel,
    retriever: Runnable | None = None,
    kind: Kind = "stuff",
    *,
    document_separator: str = DOCUMENT_SEPARATOR,
    stuff_prompt: Prompt = prompts.STUFF_QA,
) -> Runnable:
    """``{"question": str[, "documents": [...]]} -> {"question", "answer", "documents"}``.

    Documents come from the input when given, else from ``retriever.invoke(question)``.
    ``stuff_prompt=prompts.STUFF_QA_PRIVATEGPT`` gives privateGPT's variant.
    """
    _check_kind(kind)
    stuff, initial, step = (
        ask(llm, stuff_prompt),
        ask(llm, prompts.REFINE_QA_INITIAL),
        ask(llm, prompts.REFINE_QA_STEP),
    )

    def answer(inputs: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        question = inputs["question"]
        documents = inputs.get("documents")
        if documents is None:
            if retriever is None:
                raise ValueError("qa_chain has no retriever: pass one, or give 'documents' in the input")
            documents = retriever.invoke(question, config)
        texts = _texts(documents)
        if kind == "stuff" or not texts:
            result = stuff.invoke({"context": document_separator.join(texts), "question": question}, config)
        elif kind == "refine":
            result = initial.invoke({"context_str": texts[0], "question": question}, config)
            for text in texts[1:]:
                values = {"question": question, "existing_answer": result, "context_str": text}
                result = step.invoke(values, config)
        else:
            partial = stuff.batch([{"context": text, "question": question} for text in texts], config)
            result = stuff.invoke({"context": document_separator.join(partial), "question": question}, config)
        return {"question": question, "answer": result, "documents": list(documents)}

    return RunnableLambda(answer, name=f"zhllama_qa_{kind}")


def summarize_chain(
    llm: BaseChatModel, kind: Kind = "stuff", *, document_separator: str = DOCUMENT_SEPARATOR
) -> Runnable:
    """``documents (Documents or strings, or {"documents": [...]}) -> summary text``."""
    _check_kind(kind)
    summary, step = ask(llm, prompts.SUMMARY), ask(llm, prompts.SUMMARY_REFINE_STEP)

    def summarize(inputs: Any, config: RunnableConfig) -> str:
        documents = inputs["documents"] if isinstance(inputs, dict) else inputs
        texts = _texts([documents] if isinstance(documents, (str, Document)) else documents)
        if kind == "stuff" or len(texts) <= 1:
            return summary.invoke({"text": document_separator.join(texts)}, config)
        if kind == "refine":
            result = summary.invoke({"text": texts[0]}, config)
            for text in texts[1:]:
                result = step.invoke({"existing_answer": result, "text": text}, config)
            return result
        partial = summary.batch([{"text": text} for text in texts], config)
        return summary.invoke({"text": document_separator.join(partial)}, config)

    return RunnableLambda(summarize, name=f"zhllama_summarize_{kind}")

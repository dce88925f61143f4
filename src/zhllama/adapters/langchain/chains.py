"""LCEL runnables for document QA and summarization with upstream's Chinese prompts.

``qa_chain(llm, retriever, kind)`` and ``summarize_chain(llm, kind)`` replace
``langchain_classic``'s ``RetrievalQA`` / ``load_summarize_chain`` (moved out of LangChain 1.x's
core) with plain runnables that compose into a user's chain. Every model call is one human
message holding an upstream prompt (``zhllama.core.prompts``) filled verbatim; the chat model
wraps it in the Alpaca-2 template with the default system prompt, exactly as upstream's scripts do.

The steps (``stuff``, ``refine``, ``map_reduce``) are ``zhllama.docqa.chains``, the framework-free
orchestration that ``zhllama qa ask`` and ``zhllama summarize`` run too; this module only turns
each step into a runnable call (map steps as one ``batch``) carrying the caller's config.
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
from zhllama.docqa import chains as steps
from zhllama.docqa.chains import DOCUMENT_SEPARATOR, KINDS

Kind = Literal["stuff", "refine", "map_reduce"]
__all__ = ["DOCUMENT_SEPARATOR", "KINDS", "Kind", "ask", "qa_chain", "summarize_chain"]


def ask(llm: BaseChatModel, prompt: Prompt) -> Runnable:
    """``{field: value, ...} -> answer text``: ``prompt`` filled, sent as one human message."""
    fill = RunnableLambda(lambda values: [HumanMessage(prompt.fill(**values))], name=prompt.name)
    return fill | llm | StrOutputParser()


def _texts(documents: Sequence[Document | str]) -> list[str]:
    return [doc.page_content if isinstance(doc, Document) else str(doc) for doc in documents]


def _callers(runnables: dict[str, Runnable], config: RunnableConfig) -> tuple[steps.Ask, steps.AskMany]:
    """``ask``/``ask_many`` for ``zhllama.docqa.chains``: each prompt's runnable, with ``config``."""

    def call(prompt: Prompt, values: Any) -> str:
        return runnables[prompt.name].invoke(dict(values), config)

    def call_many(prompt: Prompt, values: Any) -> list[str]:
        return runnables[prompt.name].batch([dict(v) for v in values], config)

    return call, call_many


def qa_chain(
    llm: BaseChatModel,
    retriever: Runnable | None = None,
    kind: Kind = "stuff",
    *,
    document_separator: str = DOCUMENT_SEPARATOR,
    stuff_prompt: Prompt = prompts.STUFF_QA,
) -> Runnable:
    """``"question"`` or ``{"question": str[, "documents": [...]]} -> {"question", "answer", "documents"}``.

    A plain string is the question, as LangChain's retrieval chains take it. Documents come from the
    input when given, else from ``retriever.invoke(question)``.
    ``stuff_prompt=prompts.STUFF_QA_PRIVATEGPT`` gives privateGPT's variant.
    """
    steps.check_kind(kind)
    runnables = {
        p.name: ask(llm, p) for p in (stuff_prompt, prompts.REFINE_QA_INITIAL, prompts.REFINE_QA_STEP)
    }

    def answer(inputs: str | dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
        if isinstance(inputs, str):
            inputs = {"question": inputs}
        question = inputs["question"]
        documents = inputs.get("documents")
        if documents is None:
            if retriever is None:
                raise ValueError("qa_chain has no retriever: pass one, or give 'documents' in the input")
            documents = retriever.invoke(question, config)
        call, call_many = _callers(runnables, config)
        result = steps.answer(
            call,
            question,
            _texts(documents),
            kind,
            ask_many=call_many,
            separator=document_separator,
            stuff_prompt=stuff_prompt,
        )
        return {"question": question, "answer": result, "documents": list(documents)}

    return RunnableLambda(answer, name=f"zhllama_qa_{kind}")


def summarize_chain(
    llm: BaseChatModel, kind: Kind = "stuff", *, document_separator: str = DOCUMENT_SEPARATOR
) -> Runnable:
    """``documents (Documents or strings, or {"documents": [...]}) -> summary text``."""
    steps.check_kind(kind)
    runnables = {p.name: ask(llm, p) for p in (prompts.SUMMARY, prompts.SUMMARY_REFINE_STEP)}

    def summarize(inputs: Any, config: RunnableConfig) -> str:
        documents = inputs["documents"] if isinstance(inputs, dict) else inputs
        texts = _texts([documents] if isinstance(documents, (str, Document)) else documents)
        call, call_many = _callers(runnables, config)
        return steps.summarize(call, texts, kind, ask_many=call_many, separator=document_separator)

    return RunnableLambda(summarize, name=f"zhllama_summarize_{kind}")

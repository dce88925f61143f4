"""The ``zhllama-docqa`` model: chat completions answered from the documents, with their sources.

A request's last user message is the question; earlier user/assistant pairs are the conversation
so far, kept as ``docqa.conversation`` keeps them (oldest turns dropped to fit, the retrieved text
of earlier turns not repeated). The answer is ``docqa.answer.answer_question``'s: upstream's QA
prompt in the template, as many retrieved chunks as the context holds, refine when they do not fit
one prompt. System messages are not sent: every docqa call is upstream's QA prompt under the
template's default system prompt, as in ``zhllama qa chat``.

The sources (file, character span, page, score, rank, and the cited passage) come back twice: as
``sources`` in the response (and in the last chunk of a stream), and written under the answer
(``SOURCES_HEADING`` then one line each) for clients that only show text; ``sources_in_text:
false`` leaves the text out. An assistant message sent back with that block has it cut off before
it goes into the history.

Only the last model call of a chain is streamed: the earlier calls of a refine chain write drafts
that the last one rewrites.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zhllama.docqa.retrieval import Hit
from zhllama.server.errors import ApiError
from zhllama.server.library import Library, document_id
from zhllama.server.model import Reply, ServedModel
from zhllama.server.schemas import ChatCompletionRequest

SOURCES_HEADING = "\n\n来源 (sources):"


def source_dict(hit: Hit) -> dict[str, Any]:
    """One source as the API returns it."""
    return {
        "rank": hit.rank,
        "file": hit.source,
        "name": Path(hit.source).name,
        "document": document_id(hit.source),
        "start": hit.start,
        "end": hit.end,
        "page": hit.page,
        "score": hit.score,
        "citation": hit.citation,
        "text": hit.text,
    }


def sources_text(hits: list[Hit]) -> str:
    """The block written under an answer: one line per source, ``[rank] name:start-end (score)``."""
    if not hits:
        return f"{SOURCES_HEADING} none (no passage matched the question)"
    lines = []
    for hit in hits:
        page = f" p. {hit.page}" if hit.page is not None else ""
        lines.append(
            f"[{hit.rank}] {Path(hit.source).name}:{hit.start}-{hit.end}{page} (score {hit.score:.3f})"
        )
    return SOURCES_HEADING + "\n" + "\n".join(lines)


def conversation(messages: list[dict[str, str]]) -> tuple[list[tuple[str, str]], str]:
    """``(earlier turns, question)`` of a docqa chat; 400 for an order docqa cannot answer."""
    spoken = [m for m in messages if m["role"] != "system"]
    if not spoken or spoken[-1]["role"] != "user":
        raise ApiError(400, "the last message must be the user's question", param="messages")
    turns = []
    for index in range(0, len(spoken) - 1, 2):
        asked, answered = spoken[index], spoken[index + 1] if index + 1 < len(spoken) else None
        if asked["role"] != "user" or answered is None or answered["role"] != "assistant":
            raise ApiError(
                400,
                "messages must alternate user/assistant, ending with the user's question",
                param="messages",
            )
        turns.append((asked["content"], answered["content"].split(SOURCES_HEADING)[0]))
    question = spoken[-1]["content"]
    if not question.strip():
        raise ApiError(400, "the question (the last user message) is empty", param="messages")
    return turns, question


def answer_job(
    model: ServedModel, library: Library, request: ChatCompletionRequest, messages: list[dict[str, str]]
) -> Callable[[Callable[[str], None]], Reply]:
    """The docqa answer ``request`` asks for, checked now, to run when the model is free."""
    from zhllama.docqa.answer import answer_question
    from zhllama.docqa.conversation import Conversation
    from zhllama.docqa.runner import PromptRunner

    turns, question = conversation(messages)
    if not library.count():
        raise ApiError(
            400,
            f"there are no documents to answer from in {library.store.location}: upload some first "
            "(POST /v1/documents, or the page at /)",
            code="no_documents",
        )
    model.fit([{"role": "user", "content": question}], 1)  # the question alone must fit the window
    wanted = request.reply_tokens() or model.sampling.max_new_tokens
    sampling = model.sampling_for(request, min(wanted, model.context_window))
    greedy = model.greedy_for(request)
    seed = request.seed if request.seed is not None else model.seed
    show_sources = request.sources_in_text

    def run(on_text: Callable[[str], None]) -> Reply:
        steps = {"total": 1, "current": 0}

        def on_chain(kind: str, prompts: int) -> None:
            steps["total"] = prompts

        def on_call(prompt: str, number: int) -> None:
            steps["current"] = number

        def on_final_text(text: str) -> None:
            on_text(text if steps["current"] >= steps["total"] else "")  # "" still checks for cancel

        runner = PromptRunner(
            model.backend,
            template=model.template,
            sampling=sampling,
            greedy=greedy,
            seed=seed,
            on_text=on_final_text,
            on_call=on_call,
        )
        talk = Conversation(library.retriever(), runner, turns=list(turns))
        answer = answer_question(
            question, talk.retriever, runner, history=talk.history(question), on_chain=on_chain
        )
        calls = runner.calls
        return Reply(
            text=answer.text,
            finish_reason=calls[-1].completion.finish_reason if calls else "stop",
            prompt_tokens=sum(call.completion.prompt_tokens for call in calls),
            completion_tokens=sum(call.completion.completion_tokens for call in calls),
            sources=[source_dict(hit) for hit in answer.sources],
            sources_text=sources_text(answer.sources) if show_sources else "",
        )

    return run

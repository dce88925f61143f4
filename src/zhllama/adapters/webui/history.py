"""webui's chat history -> the ``messages`` our templates render.

webui (2026) passes ``history={'internal': rows, 'visible': rows, 'metadata': {...}}`` where each
internal row is ``[user, assistant]`` optionally followed by a tool result and a metadata dict.
For a new message the rows end before it and the message is passed separately; for *continue*
the last row holds the question and the partial answer to extend.

Alpaca-2 knows user and assistant turns only, so this keeps what the family was trained on: rows
with a question and an answer, in order. Rows that cannot be a turn are left out: a greeting or
dummy reply without a question (user ``''`` or ``<|BEGIN-VISIBLE-CHAT|>``), a system row, and a
question whose answer is empty (a stopped generation); tool results are not sent.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VISIBLE_CHAT_MARKER = "<|BEGIN-VISIBLE-CHAT|>"


@dataclass(frozen=True)
class Conversation:
    """The turns to render, and for *continue* the partial answer the prompt ends with."""

    messages: list[dict[str, str]]
    partial_answer: str | None = None


def _is_system_row(row: Sequence[Any]) -> bool:
    return len(row) > 3 and isinstance(row[3], Mapping) and row[3].get("role") == "system"


def _complete_turns(rows: Sequence[Sequence[Any]]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for row in rows:
        user, answer = str(row[0]).strip(), str(row[1]).strip()
        if _is_system_row(row) or user in ("", VISIBLE_CHAT_MARKER) or not answer:
            continue
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return messages


def conversation(history: Mapping[str, Any], user_input: str, continue_: bool = False) -> Conversation:
    """The conversation webui asks a prompt for, as alternating user/assistant messages.

    ``history`` is webui's history dict, ``user_input`` the message being sent (with
    ``continue_`` webui passes the last question again and the history still holds its row).
    """
    rows = list(history.get("internal", []))
    if continue_ and rows:
        *earlier, last = rows
        return Conversation(
            [*_complete_turns(earlier), {"role": "user", "content": str(last[0]).strip()}],
            partial_answer=str(last[1]).strip(),
        )
    messages = _complete_turns(rows)
    if user_input.strip():
        messages.append({"role": "user", "content": user_input.strip()})
    return Conversation(messages)

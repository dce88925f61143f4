"""LangChain messages -> zhllama's ``{"role", "content"}`` dicts for the Alpaca-2 template.

- system, human and AI messages keep their roles; an AI message's tool calls are written as the JSON
  the model is asked to produce (``tools.call_text``) and a ``ToolMessage`` becomes a user turn holding
  the tool's result, so an agent's history renders in the one template the family knows;
- consecutive messages of one role are joined by a blank line (the template alternates user/assistant;
  LangChain conversations need not);
- content parts other than text (images, audio, files) are refused: the family reads text only.

``countable`` turns *any* list (only a system message, starting with an answer) into the smallest
conversation holding it, so that token counting (``trim_messages``) works on partial lists.
"""

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from zhllama.adapters.langchain.tools import call_text
from zhllama.errors import TemplateError

_CALL_PARTS = ("tool_use", "tool_call", "function_call")  # an AI message's calls, also in .tool_calls


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else type(part).__name__
        if isinstance(part, str):
            parts.append(part)
        elif kind == "text":
            parts.append(str(part.get("text", "")))
        elif kind in _CALL_PARTS and isinstance(message, AIMessage):
            continue
        else:
            raise TemplateError(
                f"a {message.type} message holds a {kind} part: Chinese-Alpaca-2 reads text only; describe "
                "the image (or file) in words, or use a multimodal model for it"
            )
    return "".join(parts)


def _converted(message: BaseMessage) -> dict[str, str]:
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text(message)}
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": _text(message)}
    if isinstance(message, AIMessage):
        calls = [call_text(call["name"], call["args"]) for call in message.tool_calls]
        return {"role": "assistant", "content": "\n".join(filter(None, [_text(message), *calls]))}
    if isinstance(message, ToolMessage):
        name = message.name or message.tool_call_id
        outcome = "出错" if message.status == "error" else "结果"
        return {"role": "user", "content": f"工具 {name} 的{outcome}：{_text(message)}"}
    raise TemplateError(
        f"{type(message).__name__} cannot be rendered by the Alpaca-2 template: pass system, human, AI and "
        "tool messages"
    )


def to_zhllama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """The messages as template messages, consecutive ones of a role joined by a blank line.

    The template itself checks the order (optional leading system, then user/assistant turns).
    """
    converted: list[dict[str, str]] = []
    for message in messages:
        item = _converted(message)
        if converted and converted[-1]["role"] == item["role"]:
            converted[-1]["content"] += "\n\n" + item["content"]
        else:
            converted.append(item)
    return converted


def countable(messages: Sequence[BaseMessage]) -> tuple[list[dict[str, str]], bool]:
    """``(conversation, add_generation_prompt)``: the smallest renderable conversation holding ``messages``.

    An empty user turn stands in for what a partial list lacks (a question after a lone system
    message, the question before a leading answer), so a count is exact for a whole conversation and
    an upper bound for a part of one.
    """
    converted = to_zhllama_messages(messages)
    system = converted[:1] if converted and converted[0]["role"] == "system" else []
    rest = converted[len(system) :]
    if not rest or rest[0]["role"] == "assistant":
        rest = [{"role": "user", "content": ""}, *rest]
    return [*system, *rest], rest[-1]["role"] == "user"

"""LangChain messages -> zhllama's ``{"role", "content"}`` dicts for the Alpaca-2 template."""

from collections.abc import Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from zhllama.errors import TemplateError


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            parts.append(str(part.get("text", "")))
        else:
            raise TemplateError(
                f"a {message.type} message holds a "
                f"{part.get('type') if isinstance(part, dict) else type(part)} part: Chinese-Alpaca-2 takes "
                "text only"
            )
    return "".join(parts)


def to_zhllama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """System, human and AI messages as template messages; other kinds (tools) are an error.

    The template itself checks the order (optional leading system, then user/assistant turns).
    """
    converted = []
    for message in messages:
        if isinstance(message, SystemMessage):
            role = "system"
        elif isinstance(message, HumanMessage):
            role = "user"
        elif isinstance(message, AIMessage):
            role = "assistant"
        else:
            raise TemplateError(
                f"{type(message).__name__} cannot be rendered by the Alpaca-2 template: pass system, human "
                "and AI messages only (the family has no tool-calling format)"
            )
        converted.append({"role": role, "content": _text(message)})
    return converted

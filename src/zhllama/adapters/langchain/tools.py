"""Tool calling for a model family that was never trained on a tool format: described, constrained, parsed.

Chinese-Alpaca-2 has no tool tokens or tool template, so zhllama gives it one that needs none:

- the tools (OpenAI function schemas, as ``convert_to_openai_tool`` makes them) are listed in the system
  prompt, one line each (name, argument types, description), with one instruction, ``TOOL_INSTRUCTION``:
  to call a tool, reply with one JSON object ``{"name": ..., "arguments": {...}}`` (a short listing: the
  grammar, not the prompt, enforces the arguments' schema);
- when a call is required (``tool_choice="any"``/``"required"`` or a tool's name) decoding is constrained
  to that object (``call_schema``): the name is one of the tools, the arguments match its parameters, so
  the call parses and validates by construction;
- with ``tool_choice="auto"`` the model decides; a reply that is exactly such an object is a tool call,
  anything else is an answer (``parse_call``);
- earlier calls and their results are rendered back into the conversation as the same JSON and as a user
  turn holding the result (``messages.to_zhllama_messages``).
"""

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from zhllama.errors import TemplateError

TOOL_INSTRUCTION = (
    '可用工具 (tools):\n{tools}\n调用工具时只回复 JSON：{{"name": 工具名, "arguments": {{参数}}}}'
)

TOOL_CHOICES = ("auto", "any", "none")


def tool_instruction(tools: Sequence[Mapping[str, Any]]) -> str:
    """The system-prompt text listing ``tools`` (OpenAI tool dicts) and how to call one."""
    lines = []
    for tool in tools:
        function = tool["function"]
        properties = (function.get("parameters") or {}).get("properties", {})
        arguments = {name: spec.get("type", "any") for name, spec in properties.items()}
        description = f" {function['description']}" if function.get("description") else ""
        lines.append(f"- {function['name']}{json.dumps(arguments, ensure_ascii=False)}{description}")
    return TOOL_INSTRUCTION.format(tools="\n".join(lines))


def resolve_tool_choice(choice: Any, tools: Sequence[Mapping[str, Any]]) -> str:
    """LangChain's ``tool_choice`` spellings as ``"auto"``, ``"any"``, ``"none"`` or a tool's name."""
    names = [tool["function"]["name"] for tool in tools]
    if choice is None or choice == "auto":
        return "auto"
    if choice is True or choice in ("any", "required"):
        return "any"
    if choice is False or choice == "none":
        return "none"
    if isinstance(choice, Mapping):
        choice = (choice.get("function") or {}).get("name") or choice.get("name")
    if isinstance(choice, str) and choice in names:
        return choice
    raise ValueError(
        f"`tool_choice` {choice!r} is not one of 'auto', 'any', 'required', 'none' or a bound tool's name "
        f"({', '.join(names)})"
    )


def _call_object(tool: Mapping[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    parameters = dict(function.get("parameters") or {"type": "object", "properties": {}})
    parameters.setdefault("properties", {})
    return {
        "type": "object",
        "properties": {"name": {"const": function["name"]}, "arguments": parameters},
        "required": ["name", "arguments"],
    }


def call_schema(tools: Sequence[Mapping[str, Any]], choice: str) -> dict[str, Any]:
    """The JSON schema of one call to ``choice`` (a tool's name) or, for ``"any"``, to any of ``tools``."""
    chosen = [tool for tool in tools if choice in ("any", tool["function"]["name"])]
    if len(chosen) == 1:
        return _call_object(chosen[0])
    return {"anyOf": [_call_object(tool) for tool in chosen]}


def parse_call(text: str, tools: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """A LangChain ``ToolCall`` when ``text`` is one call object naming a bound tool, else None."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    names = {tool["function"]["name"] for tool in tools}
    if (
        not isinstance(value, dict)
        or set(value) != {"name", "arguments"}
        or value["name"] not in names
        or not isinstance(value["arguments"], dict)
    ):
        return None
    return {
        "name": value["name"],
        "args": value["arguments"],
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "tool_call",
    }


def call_chunk(call: Mapping[str, Any]) -> dict[str, Any]:
    """A parsed call as the one ``ToolCallChunk`` a stream ends with (arguments as JSON text)."""
    args = json.dumps(call["args"], ensure_ascii=False)
    return {"name": call["name"], "args": args, "id": call["id"], "index": 0, "type": "tool_call_chunk"}


def call_text(name: str, args: Mapping[str, Any]) -> str:
    """An earlier call as the model would have written it."""
    return json.dumps({"name": name, "arguments": dict(args)}, ensure_ascii=False)


def with_tools_in_system_prompt(
    messages: list[dict[str, str]], tools: Sequence[Mapping[str, Any]], default_system: str | None
) -> list[dict[str, str]]:
    """``messages`` with the tool instruction appended to the system prompt (the template's default if
    there is none)."""
    if not tools:
        return messages
    instruction = tool_instruction(tools)
    if messages and messages[0]["role"] == "system":
        system = messages[0]["content"]
        rest = messages[1:]
    else:
        system, rest = default_system, messages
    if system is None:
        raise TemplateError("this template has no system prompt to list the tools in: use alpaca-2")
    return [{"role": "system", "content": f"{system}\n\n{instruction}" if system else instruction}, *rest]

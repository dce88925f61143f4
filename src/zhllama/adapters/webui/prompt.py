"""The chat prompt webui sends to the model, rendered with our template and truncation.

``build_prompt`` is pure: webui's state and history in, the prompt text out. The system prompt
is webui's own when the user typed one (``custom_system_message`` in instruct mode, the
character's ``context`` in chat mode), else the one ``params`` select. Whole oldest turns are
dropped to fit the budget (``truncate_history``; the system prompt moves to the new first turn,
as upstream does). Every message is passed through ``keep_as_text`` so history written before
the extension was enabled is as safe as new input.

BOS: in instruct modes webui sets ``add_bos_token=False`` and leaves BOS to the template, so the
prompt then starts with the BOS string; under the Transformers loader webui removes the double
BOS this would otherwise make, under llama.cpp the string is the only BOS.
"""

from collections.abc import Mapping
from typing import Any

from zhllama.adapters.webui.control_text import keep_as_text
from zhllama.adapters.webui.history import Conversation, conversation
from zhllama.adapters.webui.settings import history_budget, system_prompt
from zhllama.core.templates import Template, truncate_history

PROMPT_MODES = ("instruct", "chat")


def system_message(state: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    """webui's own system text when the user set one, else the one ``params`` select."""
    own = state.get("custom_system_message" if state.get("mode") == "instruct" else "context", "")
    return own if str(own or "").strip() else system_prompt(params)


def build_prompt(
    user_input: str,
    state: Mapping[str, Any],
    params: Mapping[str, Any],
    template: Template,
    *,
    history: Mapping[str, Any],
    continue_: bool = False,
    tokenizer: Any = None,
    bos_token: str = "<s>",
) -> str | None:
    """The prompt for ``user_input`` after ``history``, or None to let webui build its own.

    None for modes other than instruct and chat (chat-instruct wraps a prompt in a command of
    webui's own), and when there is no question to answer. Without a tokenizer (no model loaded)
    nothing is truncated. Raises ``TemplateError`` when the settings leave the prompt no room or
    the last message alone does not fit.
    """
    if state.get("mode") not in PROMPT_MODES:
        return None
    talk = conversation(history, keep_as_text(user_input), continue_)
    if not talk.messages:
        return None
    messages = [{"role": "system", "content": system_message(state, params)}, *talk.messages]
    messages = [{**message, "content": keep_as_text(message["content"])} for message in messages]
    continuation = _continuation(template, talk)
    budget = history_budget(params, state)
    if tokenizer is not None:
        if continuation:
            from zhllama.core.tokenizer import encode_text

            budget -= len(encode_text(tokenizer, continuation))
        messages = truncate_history(messages, tokenizer, budget, template)
    prefix = bos_token if state.get("add_bos_token", True) is False else ""
    return prefix + template.render(messages) + continuation


def _continuation(template: Template, talk: Conversation) -> str:
    """For *continue*: the answer's opening text and the partial answer, after ``[/INST]``."""
    if not talk.partial_answer:
        return ""
    before, _ = template.assistant_parts
    return before + keep_as_text(talk.partial_answer)

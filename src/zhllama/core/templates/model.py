"""The Template dataclass: one data-driven description of a prompt layout.

Every layout this package knows (Alpaca-2, first-generation Alpaca, Meta Llama-2-chat) is the
same shape: an optional system prompt folded into the first user turn, a wrapper around each
user message, a wrapper around each answer, and either BOS/EOS control tokens between turns or a
plain-text separator. ``Template.segments`` turns a conversation into a list of ``Segment``s
(template text, user-supplied content, BOS, EOS); ``render``, ``encode_messages`` and the
Jinja export all read that one structure, so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from zhllama.core.templates import jinja
from zhllama.errors import TemplateError

SegmentKind = Literal["text", "content", "bos", "eos"]
ROLES = ("system", "user", "assistant")

SYSTEM = "{system}"
USER = "{user}"
ASSISTANT = "{assistant}"


@dataclass(frozen=True)
class Segment:
    """A piece of a rendered conversation.

    ``text`` is template-owned text, ``content`` is text a person or program supplied (it must
    never become control ids), ``bos``/``eos`` are the control tokens the template places.
    """

    kind: SegmentKind
    text: str = ""


@dataclass(frozen=True)
class Template:
    """A prompt layout described by its strings, not by code.

    The wrapper strings hold the placeholders ``{system}``, ``{user}`` and ``{assistant}``;
    they are split on those markers, never passed to ``str.format``, so braces in messages are
    safe.

    ``turn_tokens=True`` (the Llama-2 layouts): every turn starts with BOS and every answer
    ends with EOS; BOS of the first turn is left to the tokenizer, so the rendered text holds
    no leading ``<s>`` while later turns hold ``</s><s>`` literally. ``turn_tokens=False``:
    one BOS for the whole prompt and ``answer_separator`` between an answer and the next turn.
    """

    name: str
    description: str
    first_user_format: str
    user_format: str
    assistant_format: str
    default_system_prompt: str | None = None
    turn_tokens: bool = True
    answer_separator: str = ""
    bos: str = "<s>"
    eos: str = "</s>"

    def __post_init__(self) -> None:
        if self.first_user_format.count(SYSTEM) != 1 or self.first_user_format.count(USER) != 1:
            raise TemplateError(
                f"template {self.name!r}: first_user_format must hold {SYSTEM} and {USER} once each, "
                f"got {self.first_user_format!r}"
            )
        if self.first_user_format.index(SYSTEM) > self.first_user_format.index(USER):
            raise TemplateError(
                f"template {self.name!r}: {SYSTEM} must come before {USER} in first_user_format"
            )
        if self.user_format.count(USER) != 1 or SYSTEM in self.user_format:
            raise TemplateError(f"template {self.name!r}: user_format must hold {USER} once and no {SYSTEM}")
        if self.assistant_format.count(ASSISTANT) != 1:
            raise TemplateError(f"template {self.name!r}: assistant_format must hold {ASSISTANT} once")

    # -- the wrapper strings, split at their placeholders -------------------------------------
    @property
    def system_parts(self) -> tuple[str, str, str]:
        """``(before system, between system and user, after user)`` of the first turn."""
        before, rest = self.first_user_format.split(SYSTEM)
        middle, after = rest.split(USER)
        return before, middle, after

    @property
    def user_parts(self) -> tuple[str, str]:
        before, after = self.user_format.split(USER)
        return before, after

    @property
    def assistant_parts(self) -> tuple[str, str]:
        before, after = self.assistant_format.split(ASSISTANT)
        return before, after

    # -- conversations ------------------------------------------------------------------------
    def split_messages(
        self, messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = True
    ) -> tuple[str | None, list[tuple[str, str | None]]]:
        """Validate ``messages`` and return ``(system prompt, [(user, answer or None), ...])``.

        Accepted: an optional leading ``system`` message, then ``user``/``assistant`` messages
        alternating and starting with ``user``. With ``add_generation_prompt=True`` the last
        message must be ``user`` (the model is about to answer it). The system prompt is the
        leading system message's content, else the template's default (possibly None).
        """
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
            raise TemplateError(
                "messages must be a list of {'role': ..., 'content': ...} dicts, "
                f"got {type(messages).__name__}"
            )
        if not messages:
            raise TemplateError(
                "messages is empty: pass at least one {'role': 'user', 'content': ...} message"
            )
        for index, message in enumerate(messages):
            if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
                raise TemplateError(
                    f"message {index} must be a dict with 'role' and 'content' keys, got {message!r}"
                )
            if message["role"] not in ROLES:
                raise TemplateError(
                    f"message {index} has unknown role {message['role']!r}: use one of {', '.join(ROLES)}"
                )
            if not isinstance(message["content"], str):
                raise TemplateError(
                    f"message {index} ({message['role']}) has content of type "
                    f"{type(message['content']).__name__}: content must be a string (join text parts first)"
                )
        system = self.default_system_prompt
        rest = list(messages)
        if rest[0]["role"] == "system":
            system = rest[0]["content"]
            rest = rest[1:]
        if not rest:
            raise TemplateError("messages hold only a system message: add a user message after it")
        turns: list[tuple[str, str | None]] = []
        for offset, message in enumerate(rest):
            index = offset + len(messages) - len(rest)
            expected = "user" if offset % 2 == 0 else "assistant"
            if message["role"] != expected:
                where = "only first" if message["role"] == "system" else f"{expected} expected"
                raise TemplateError(
                    f"message {index} has role {message['role']!r} ({where}): after an optional leading "
                    "system message, roles must alternate user/assistant starting with user"
                )
            if expected == "user":
                turns.append((message["content"], None))
            else:
                turns[-1] = (turns[-1][0], message["content"])
        if add_generation_prompt and turns[-1][1] is not None:
            raise TemplateError(
                "the last message is an assistant answer but add_generation_prompt=True asks the model to "
                "answer a user message: end with a user message, or pass add_generation_prompt=False"
            )
        return system, turns

    def turn_segments(self, system: str | None, user: str, answer: str | None, first: bool) -> list[Segment]:
        """The segments of one user/answer turn (``system`` is used on the first turn only)."""
        segments: list[Segment] = []
        if first or self.turn_tokens:
            segments.append(Segment("bos"))
        if first and system is not None:
            before, middle, after = self.system_parts
            segments += [Segment("text", before), Segment("content", system), Segment("text", middle)]
        else:
            before, after = self.user_parts
            segments.append(Segment("text", before))
        segments += [Segment("content", user), Segment("text", after)]
        if answer is not None:
            before, after = self.assistant_parts
            segments += [Segment("text", before), Segment("content", answer), Segment("text", after)]
            segments.append(Segment("eos") if self.turn_tokens else Segment("text", self.answer_separator))
        return [segment for segment in segments if segment.kind in ("bos", "eos") or segment.text]

    def segments(
        self, messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = True
    ) -> list[Segment]:
        """The conversation as segments: the single source of truth for text and ids."""
        system, turns = self.split_messages(messages, add_generation_prompt)
        segments: list[Segment] = []
        for index, (user, answer) in enumerate(turns):
            segments += self.turn_segments(system, user, answer, first=index == 0)
        return segments

    def render(self, messages: Sequence[Mapping[str, Any]], add_generation_prompt: bool = True) -> str:
        """The prompt text, as upstream builds it: no leading ``<s>`` (the tokenizer adds BOS).

        A conversation ending with a user message renders up to and including the closing
        ``[/INST]`` whatever ``add_generation_prompt`` says (the generation prompt is part of the
        user turn); one ending with an answer renders ``... [/INST] {answer}</s>``.
        """
        pieces = []
        for index, segment in enumerate(self.segments(messages, add_generation_prompt)):
            if segment.kind == "bos":
                pieces.append("" if index == 0 else self.bos)
            elif segment.kind == "eos":
                pieces.append(self.eos)
            else:
                pieces.append(segment.text)
        return "".join(pieces)

    def render_instruction(self, instruction: str, system_prompt: str | None = None) -> str:
        """Single-turn prompt for ``instruction`` (upstream's ``generate_prompt``)."""
        messages: list[dict[str, str]] = []
        if system_prompt is not None:
            messages.append({"role": "system", "content": system_prompt})
        messages.append({"role": "user", "content": instruction})
        return self.render(messages)

    @property
    def chat_template(self) -> str:
        """The Jinja chat template that renders exactly as ``render`` (no BOS in the text)."""
        return jinja.chat_template(self, with_bos=False)

    @property
    def chat_template_with_bos(self) -> str:
        """The Jinja chat template that starts with ``{{ bos_token }}``.

        For runtimes that tokenize the rendered text without adding special tokens
        (``apply_chat_template(tokenize=True)``, vLLM, llama.cpp's ``--jinja``).
        """
        return jinja.chat_template(self, with_bos=True)

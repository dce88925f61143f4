"""Export a template to the tools people run the models in.

Each ``*_export`` function returns the text a tool reads; ``write_hf_chat_template`` and
``write_export`` are the only functions here that touch files.

- ``hf``: the with-BOS ``chat_template`` inside a model folder's ``tokenizer_config.json``.
  transformers' ``apply_chat_template(tokenize=True)`` encodes with ``add_special_tokens=False``,
  vLLM's chat endpoint does the same and llama.cpp's converter copies it into GGUF metadata, so
  the template itself must emit ``{{ bos_token }}``.
- ``vllm``: the same Jinja as a file for ``vllm serve --chat-template FILE``.
- ``webui``: a text-generation-webui instruction template (``instruction_template: |-``). The 2026
  webui renders it in a sandboxed jinja2 environment with ``bos_token`` and, in instruct mode,
  turns its own ``add_bos_token`` off, so the template emits ``{{ bos_token }}`` (earlier webui
  releases stripped a leading BOS and added their own: the same prompt either way). It performs
  no role checks: earlier releases probe it with two assistant messages in a row.
- ``llamacpp``: upstream's ``llama-cli`` interactive flags plus the GGUF ``tokenizer.chat_template``.
- ``privategpt``: a YAML spec of the exact strings privateGPT's ``_messages_to_prompt`` and
  ``_completion_to_prompt`` must produce.
- ``jinja``: the plain template (no BOS), byte-identical to ``Template.render``.
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import yaml

from zhllama.core.files import free_backup_path, write_atomic
from zhllama.core.templates.jinja import chat_template
from zhllama.core.templates.model import Template
from zhllama.errors import TemplateError

FORMATS = ("hf", "vllm", "webui", "llamacpp", "privategpt", "jinja")
DEFAULT_FILENAMES = {
    "vllm": "{name}.jinja",
    "webui": "{name}.yaml",
    "llamacpp": "{name}.llamacpp.txt",
    "privategpt": "{name}.privategpt.yaml",
    "jinja": "{name}.jinja",
}


def hf_chat_template(template: Template) -> str:
    """The ``chat_template`` for ``tokenizer_config.json`` (emits ``{{ bos_token }}`` first)."""
    return template.chat_template_with_bos


def vllm_export(template: Template) -> str:
    """A Jinja file for ``vllm serve MODEL --chat-template FILE`` (with BOS, as vLLM adds none)."""
    return template.chat_template_with_bos + "\n"


def webui_chat_template(template: Template) -> str:
    """The instruction-template Jinja for text-generation-webui (BOS first, no role checks)."""
    return chat_template(template, with_bos=True, strict=False)


def webui_export(template: Template) -> str:
    """A text-generation-webui ``user_data/instruction-templates/NAME.yaml``."""
    body = webui_chat_template(template)
    indented = "\n".join(f"  {line}" if line else "" for line in body.split("\n"))
    return f"instruction_template: |-\n{indented}\n"


def llamacpp_first_prompt(template: Template, instruction: str, system_prompt: str | None = None) -> str:
    """The ``-p`` prompt of the first turn (llama.cpp adds BOS before it)."""
    return template.render_instruction(instruction, system_prompt)


def llamacpp_flags(template: Template) -> dict[str, str]:
    """Interactive-mode flags: llama.cpp sends BOS, ``in_prefix``, the typed line, ``in_suffix``.

    The leading space of ``in_prefix`` stands where the tokenizer's dummy prefix goes after
    ``<s>``; see ``docs/templates.md``.
    """
    if not template.turn_tokens:
        before, after = template.user_parts
        return {"in_prefix": template.answer_separator + before, "in_suffix": after}
    before, after = template.user_parts
    return {"in_prefix": " " + before, "in_suffix": after}


def llamacpp_export(template: Template, instruction: str = "FIRST_INSTRUCTION") -> str:
    """The ``llama-cli`` command line (upstream ``scripts/llama-cpp/chat.sh``) and GGUF chat template."""
    flags = llamacpp_flags(template)
    bos_flag = " --in-prefix-bos" if template.turn_tokens else ""
    prompt = llamacpp_first_prompt(template, instruction)
    return (
        f"# llama.cpp interactive chat with the {template.name!r} template\n"
        f"llama-cli -m MODEL.gguf -i -c 4096 --temp 0.2 --top-k 40 --top-p 0.9 --repeat-penalty 1.1"
        f"{bos_flag} --in-prefix {shlex.quote(flags['in_prefix'])}"
        f" --in-suffix {shlex.quote(flags['in_suffix'])}"
        f" -p {shlex.quote(prompt)}\n"
        f"\n# GGUF metadata tokenizer.chat_template (llama-server --jinja); JSON-encoded:\n"
        f"{json.dumps(template.chat_template_with_bos, ensure_ascii=False)}\n"
    )


def privategpt_spec(template: Template) -> dict:
    """The strings privateGPT's prompt style must produce, as plain data."""
    sys_before, sys_middle, sys_after = template.system_parts
    user_before, user_after = template.user_parts
    answer_before, answer_after = template.assistant_parts
    return {
        "template": template.name,
        "description": template.description,
        "bos_in_prompt": False,
        "note": (
            "The LLM adds BOS; the prompt text holds none at its start. Later turns start with turn_start. "
            "Use llm.mode openailike with prompt_style default against a server that applies the model's "
            "chat_template (zhllama template export --format hf) to skip this spec entirely."
        ),
        "default_system_prompt": template.default_system_prompt,
        "messages_to_prompt": {
            "first_user_with_system": sys_before + "{system}" + sys_middle + "{user}" + sys_after,
            "first_user_without_system": user_before + "{user}" + user_after,
            "user": user_before + "{user}" + user_after,
            "assistant": answer_before + "{assistant}" + answer_after,
            "after_assistant": template.eos if template.turn_tokens else template.answer_separator,
            "turn_start": template.bos if template.turn_tokens else "",
        },
        "completion_to_prompt": sys_before + "{system}" + sys_middle + "{completion}" + sys_after
        if template.default_system_prompt is not None
        else user_before + "{completion}" + user_after,
    }


def privategpt_export(template: Template) -> str:
    return yaml.safe_dump(privategpt_spec(template), allow_unicode=True, sort_keys=False, width=1000)


def jinja_export(template: Template) -> str:
    return template.chat_template + "\n"


_TEXT_EXPORTS = {
    "vllm": vllm_export,
    "webui": webui_export,
    "llamacpp": llamacpp_export,
    "privategpt": privategpt_export,
    "jinja": jinja_export,
}


def export_text(template: Template, fmt: str) -> str:
    """The text of export ``fmt`` (for ``hf``: the ``chat_template`` value)."""
    if fmt == "hf":
        return hf_chat_template(template)
    if fmt not in _TEXT_EXPORTS:
        raise TemplateError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    return _TEXT_EXPORTS[fmt](template)


def write_hf_chat_template(template: Template, model_dir: str | os.PathLike) -> Path:
    """Set ``chat_template`` in ``model_dir/tokenizer_config.json``; return the file's path.

    Every other key is kept; the previous file is kept as ``tokenizer_config.json.bak`` (``.bak2``
    ... when one exists); the new file replaces the old one atomically.
    """
    folder = Path(model_dir)
    path = folder / "tokenizer_config.json"
    if not folder.is_dir():
        raise TemplateError(
            f"model folder {folder} does not exist: pass the folder holding tokenizer_config.json"
        )
    config: dict = {}
    if path.exists():
        previous = path.read_text(encoding="utf-8")
        try:
            config = json.loads(previous)
        except json.JSONDecodeError as exc:
            raise TemplateError(
                f"{path} is not valid JSON ({exc}): fix or remove it, then export again"
            ) from exc
        if not isinstance(config, dict):
            raise TemplateError(f"{path} holds a JSON {type(config).__name__}, not an object: fix it first")
        write_atomic(free_backup_path(path), previous)
    config["chat_template"] = hf_chat_template(template)
    write_atomic(path, json.dumps(config, ensure_ascii=False, indent=2) + "\n")
    return path


def write_export(template: Template, fmt: str, out: str | os.PathLike) -> Path:
    """Write export ``fmt`` (not ``hf``) to ``out`` atomically; return the path."""
    path = Path(out)
    if not path.parent.is_dir():
        raise TemplateError(f"folder {path.parent} does not exist: create it or choose another --out")
    write_atomic(path, export_text(template, fmt))
    return path

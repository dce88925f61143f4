"""privateGPT 0.6.2's own modules with zhllama's profile, against zhllama's llama.cpp server.

Covered here: 0.6.2's settings loader and ``Settings`` schema read the profile, its prompt helper gives the
``default`` style (chat messages go to the server as they are) and its ``LLMComponent`` builds the
OpenAI-like LLM that answers through the server, which applies the Alpaca-2 template. A stand-in:
these modules run on this environment's LlamaIndex 0.14 and transformers 5, not 0.6.2's pins
(0.10 and 4, which cannot sit beside zhllama); the whole server with its own pins, ingesting and
answering with sources, is ``scripts/privategpt_end_to_end.py`` (docs/privategpt.md has its result).
"""

from app_process import run_in_checkout

CHECK = """
import json

from llama_index.core.llms import ChatMessage

from private_gpt.components.llm.llm_component import LLMComponent
from private_gpt.components.llm.prompt_helper import DefaultPromptStyle, get_prompt_style
from private_gpt.settings.settings import Settings
from private_gpt.settings.settings_loader import active_profiles, load_active_settings

settings = Settings(**load_active_settings())
llm = LLMComponent(settings).llm
messages = [ChatMessage(role="system", content="你是助手。"), ChatMessage(role="user", content="你好")]
reply = llm.chat(messages, max_tokens=8)  # the tiny model never stops on its own
print(json.dumps({
    "profiles": active_profiles,
    "llm_settings": settings.llm.model_dump(),
    "style_is_default": isinstance(get_prompt_style(settings.llm.prompt_style), DefaultPromptStyle),
    "llm": type(llm).__name__,
    "api_base": llm.api_base,
    "model": llm.model,
    "is_chat_model": llm.is_chat_model,
    "temperature": llm.temperature,
    "reply": reply.message.content,
}))
"""


def test_privategpts_own_llm_component_answers_through_zhllamas_server(
    checkout, write_profile, llama_cpp_server
):
    folder = checkout("0.6")
    write_profile(
        folder, "--api-base", llama_cpp_server.base_url, "--model", "tiny-zh-llama", "--context", "256"
    )
    result = run_in_checkout(folder, CHECK, env={"PGPT_PROFILES": "zhllama"})
    assert result["profiles"] == ["default", "zhllama"]
    assert result["llm_settings"]["mode"] == "openailike" and result["style_is_default"]
    assert (result["llm_settings"]["temperature"], result["llm_settings"]["max_new_tokens"]) == (0.2, 512)
    assert result["llm"] == "OpenAILike" and result["is_chat_model"] and result["temperature"] == 0.2
    assert (result["api_base"], result["model"]) == (llama_cpp_server.base_url, "tiny-zh-llama")
    assert isinstance(result["reply"], str) and result["reply"].strip()

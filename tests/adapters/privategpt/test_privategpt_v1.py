"""privateGPT 1.x's own modules with zhllama's profiles: both routes build and answer.

Covered here: 1.x's settings loader and ``Settings`` read each profile; its ``LLMComponent`` builds the
model entry through its factory registry — ``mode: openai`` (its OpenAI-like LLM against zhllama's
llama.cpp server, which applies the Alpaca-2 template) and ``mode: zhllama-llamacpp`` (registered by
the launcher: ``ZhllamaLLM`` on the GGUF); its prompt-style registry hands out the Alpaca-2 style.
Stand-ins: 1.x locks numpy 1.26 while this environment has numpy 2, so the two aliases numpy 2
dropped (``NAN``, ``NaN``, read by 1.x's table reader at import) are put back first; and 1.x's
services (database, broker, workers) are not run: ``scripts/privategpt_end_to_end.py`` runs the
whole server from a checkout where they are.
"""

from click.testing import CliRunner

from app_process import run_in_checkout
from zhllama.cli import main
from zhllama.core.sampling import UPSTREAM
from zhllama.core.templates import get_template

PREAMBLE = """
import json
import numpy

numpy.NAN = numpy.NaN = numpy.nan  # stand-in: numpy 2 dropped the aliases 1.x's pinned numpy 1.26 has

from private_gpt.components.llm.llm_component import LLMComponent
from private_gpt.components.llm.registry import LLMRegistry
from private_gpt.settings.settings import Settings
from private_gpt.settings.settings_loader import active_profiles, load_active_settings

settings = Settings(**load_active_settings())
"""

OPENAI_CHECK = (
    PREAMBLE
    + """
component = LLMComponent(settings, LLMRegistry())
llm = component.get_llm()
from llama_index.core.llms import ChatMessage
reply = llm.chat([ChatMessage(role="user", content="你好")], max_tokens=8)  # the tiny model never stops
[entry] = settings.models
print(json.dumps({
    "profiles": active_profiles,
    "llm": type(llm).__name__,
    "api_base": llm.api_base,
    "model": llm.model,
    "tokenizer": type(component.registry.get(entry.name).tokenizer).__name__,
    "sampling": entry.sampling_params.model_dump(),
    "reply": reply.message.content,
}))
"""
)

LLAMACPP_CHECK = (
    PREAMBLE
    + """
SAMPLING_KEYS = ("temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens")
from zhllama.adapters.privategpt import launcher
from private_gpt.components.llm.prompt_helper import get_prompt_style

installed = launcher.install()
llm = LLMComponent(settings, LLMRegistry()).get_llm()
style = get_prompt_style("zhllama-alpaca-2", tokenizer=None)
from llama_index.core.llms import ChatMessage
messages = [ChatMessage(role="system", content="系统"), ChatMessage(role="user", content="你好")]
result = {
    "llm": type(llm).__name__,
    "backend": type(llm.backend).__name__,
    "context_window": llm.backend.context_window,
    "sampling": {k: getattr(llm, k) for k in SAMPLING_KEYS},
    "completion": llm.complete("你好", max_new_tokens=8).text,
    "style_prompt": style.messages_to_prompt(messages),
    "style_completion": style.completion_to_prompt("你好"),
}
launcher.uninstall(installed)
from private_gpt.components.llm.factories.registry import _PROVIDERS as llms
from private_gpt.components.llm.prompt_styles.registry import _EXTERNAL_PROMPT_STYLE_FACTORIES as styles
result["left_after_uninstall"] = ["zhllama-llamacpp" in llms, "zhllama-alpaca-2" in styles]
print(json.dumps(result))
"""
)

SAMPLING = {
    "temperature": UPSTREAM.temperature,
    "top_k": UPSTREAM.top_k,
    "top_p": UPSTREAM.top_p,
    "repetition_penalty": UPSTREAM.repetition_penalty,
    "max_new_tokens": UPSTREAM.max_new_tokens,
}


def test_openailike_builds_v1s_own_llm_which_answers_through_zhllamas_server(
    checkout, write_profile, llama_cpp_server, tokenizer_copy
):
    folder = checkout("1")
    exported = CliRunner().invoke(
        main, ["template", "export", "--format", "hf", "--model-dir", str(tokenizer_copy)]
    )
    assert exported.exit_code == 0, exported.output
    write_profile(
        folder,
        *("--api-base", llama_cpp_server.base_url, "--model", "tiny-zh-llama", "--context", "256"),
        *("--tokenizer", str(tokenizer_copy)),  # offline: without it 1.x downloads tiktoken's encoding
    )
    result = run_in_checkout(folder, OPENAI_CHECK, env={"PGPT_PROFILES": "zhllama"})
    assert result["profiles"] == ["default", "zhllama"]
    assert result["llm"] == "PatchedOpenAILikeLLM" and result["model"] == "tiny-zh-llama"
    assert result["api_base"] == llama_cpp_server.base_url and result["tokenizer"] == "HuggingFaceTokenizer"
    assert {key: result["sampling"][key] for key in SAMPLING} == SAMPLING and result["sampling"]["min_p"] == 0
    assert result["reply"].strip()


def test_llamacpp_builds_zhllamas_llm_with_upstream_sampling_and_the_alpaca_2_style(
    checkout, write_profile, tiny_gguf
):
    folder = checkout("1")
    write_profile(folder, "--mode", "llamacpp", "--model", str(tiny_gguf), "--context", "512")
    result = run_in_checkout(folder, LLAMACPP_CHECK, env={"PGPT_PROFILES": "zhllama"})
    assert (result["llm"], result["backend"], result["context_window"]) == (
        "ZhllamaLLM",
        "LlamaCppBackend",
        512,
    )
    assert result["sampling"] == SAMPLING and result["completion"]
    template = get_template("alpaca-2")
    conversation = [{"role": "system", "content": "系统"}, {"role": "user", "content": "你好"}]
    assert result["style_prompt"] == template.render(conversation)
    assert result["style_completion"] == template.render_instruction("你好")
    assert result["left_after_uninstall"] == [False, False]

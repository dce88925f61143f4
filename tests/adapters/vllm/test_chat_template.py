"""The chat template for `--chat-template`, rendered by vLLM's own chat path, equals our renderer."""

import pytest

from zhllama.adapters.vllm.serving import serve_settings
from zhllama.core.templates import encode_messages, get_template

CONVERSATIONS = {
    "default system prompt": [{"role": "user", "content": "你好，请介绍一下北京。"}],
    "own system prompt": [
        {"role": "system", "content": "你是一个诗人。"},
        {"role": "user", "content": "写一首关于秋天的诗。"},
    ],
    "multi-turn": [
        {"role": "user", "content": "《红楼梦》的作者是谁？"},
        {"role": "assistant", "content": "曹雪芹。"},
        {"role": "user", "content": "他生活在哪个朝代？"},
    ],
}


@pytest.fixture(scope="module")
def vllm_chat(served_model_dir):
    """vLLM's model config, tokenizer and chat rendering for the served folder and our template."""
    from vllm.engine.arg_utils import EngineArgs
    from vllm.renderers.chat_utils.chat_message import parse_chat_messages
    from vllm.renderers.hf import safe_apply_chat_template
    from vllm.tokenizers.registry import cached_tokenizer_from_config

    settings = serve_settings(served_model_dir, 1024)
    kwargs = {key: value for key, value in settings.llm_kwargs().items() if key != "chat_template"}
    model_config = EngineArgs(**kwargs).create_model_config()
    tokenizer = cached_tokenizer_from_config(model_config)

    def render(messages, tokenize):
        conversation, _, _ = parse_chat_messages(messages, model_config, content_format="string")
        return safe_apply_chat_template(
            model_config,
            tokenizer,
            conversation,
            chat_template=settings.chat_template,
            add_generation_prompt=True,
            tokenize=tokenize,
        )

    return render, tokenizer


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_vllm_renders_the_text_of_our_template_after_one_bos(vllm_chat, name):
    render, tokenizer = vllm_chat
    messages = CONVERSATIONS[name]
    assert render(messages, tokenize=False) == tokenizer.bos_token + get_template("alpaca-2").render(messages)


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_vllm_sends_the_token_ids_of_our_safe_encoding(vllm_chat, served_model_dir, tokenizer, name):
    render, vllm_tokenizer = vllm_chat
    messages = CONVERSATIONS[name]
    from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

    assert isinstance(vllm_tokenizer, SentencePieceBackend)  # the exact one, not a converted BPE
    assert render(messages, tokenize=True) == encode_messages(tokenizer, get_template("alpaca-2"), messages)

"""CFG sampling (upstream's ``--guidance_scale`` / ``--negative_prompt``) on the transformers backend.

Upstream contrasts the prompt with the same template and instruction under the negative prompt as
the system prompt, through transformers' ``UnbatchedClassifierFreeGuidanceLogitsProcessor``; scale 1
is no CFG at all. The other runtimes have no CFG and say so.
"""

import math

import pytest

from zhllama.backends import OpenAICompatibleBackend
from zhllama.backends.base import negative_messages
from zhllama.backends.protocol import BackendError
from zhllama.core.sampling import Sampling
from zhllama.core.templates import get_template

QUESTION = [{"role": "user", "content": "续写下面的文字：话说天下大势，分久必合，合久必分。"}]
SHORT = Sampling(max_new_tokens=12)


def reply(backend, **cfg):
    return backend.complete(QUESTION, sampling=SHORT, greedy=True, **cfg).text


@pytest.fixture(scope="module")
def plain(transformers_backend):
    return reply(transformers_backend)


def test_scale_one_is_no_cfg_exactly(transformers_backend, plain):
    assert reply(transformers_backend, guidance_scale=1.0) == plain
    assert reply(transformers_backend, guidance_scale=1) == plain


def test_a_scale_above_one_steers_away_from_the_prompts_last_token(transformers_backend, plain):
    assert reply(transformers_backend, guidance_scale=1.5) != plain


def test_the_negative_prompt_is_the_same_conversation_under_another_system_prompt(transformers_backend):
    negative = negative_messages([{"role": "system", "content": "原来的"}, *QUESTION], "回复尽可能多的内容。")
    assert negative == [{"role": "system", "content": "回复尽可能多的内容。"}, *QUESTION]
    assert get_template("alpaca-2").render(negative) == (
        "[INST] <<SYS>>\n回复尽可能多的内容。\n<</SYS>>\n\n" + QUESTION[0]["content"] + " [/INST]"
    )
    guided = reply(transformers_backend, guidance_scale=1.5, negative_prompt="回复尽可能多的内容。")
    assert guided != reply(transformers_backend, guidance_scale=1.5)  # not the default last-token contrast


def test_the_negative_prompt_goes_to_transformers_as_ids(transformers_backend, monkeypatch):
    seen = {}
    generate = transformers_backend.model.generate

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return generate(*args, **kwargs)

    monkeypatch.setattr(transformers_backend.model, "generate", spy)
    reply(transformers_backend, guidance_scale=2.0, negative_prompt="简短回答。")
    expected = transformers_backend.prompt_ids(negative_messages(QUESTION, "简短回答。"))
    assert seen["guidance_scale"] == 2.0 and seen["negative_prompt_ids"][0].tolist() == expected


def test_runtimes_without_cfg_refuse_it(llama_cpp_backend, tokenizer_dir):
    with pytest.raises(BackendError, match=r"runs on the transformers backend only; llama\.cpp has no CFG"):
        reply(llama_cpp_backend, guidance_scale=1.5)
    server = OpenAICompatibleBackend("http://127.0.0.1:9/v1", tokenizer_dir, context_window=256)
    with pytest.raises(BackendError, match="openai-compatible has no CFG"):
        reply(server, guidance_scale=1.5)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"negative_prompt": "简短回答。"}, "a `negative_prompt` needs CFG"),
        ({"guidance_scale": math.nan}, "`guidance_scale` must be a finite number"),
        ({"guidance_scale": "1.5"}, "`guidance_scale` must be a finite number"),
    ],
)
def test_cfg_settings_that_mean_nothing_are_refused(transformers_backend, cfg, message):
    with pytest.raises(BackendError, match=message):
        reply(transformers_backend, **cfg)


def test_cfg_and_speculation_do_not_combine(transformers_backend):
    from zhllama.backends import TransformersBackend

    looking = TransformersBackend(transformers_backend.model, transformers_backend.tokenizer, lookup=3)
    with pytest.raises(BackendError, match="do not combine"):
        reply(looking, guidance_scale=1.5)

"""The answer step: chunks fitted into the model's context, upstream's prompts, stuff or refine."""

import pytest

from zhllama.core import prompts
from zhllama.core.templates import DEFAULT_SYSTEM_PROMPT
from zhllama.docqa.answer import answer_question, default_k
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.store import Store
from zhllama.errors import DocQAError

QUESTION = "《战国无双3》是由哪两个公司合作开发的？"


def alpaca2(instruction: str) -> str:
    """DESIGN §4: the upstream template with the default system prompt, no <s> in the text."""
    return f"[INST] <<SYS>>\n{DEFAULT_SYSTEM_PROMPT}\n<</SYS>>\n\n{instruction} [/INST]"


@pytest.fixture
def cmrc_retriever(cmrc_db):
    return Retriever(Store(db=cmrc_db, create=False))


def test_a_bigger_context_retrieves_and_reads_more_chunks(cmrc_retriever, make_runner):
    small, large = make_runner(window=256), make_runner(window=2048)
    assert default_k(QUESTION, small) == 1
    assert default_k(QUESTION, large) > default_k(QUESTION, small)
    short = answer_question(QUESTION, cmrc_retriever, small, k=8)
    long = answer_question(QUESTION, cmrc_retriever, large, k=8)
    assert long.chain == "stuff" and sum(hit.chunks for hit in long.sources) == 8, (
        "eight 128-token chunks (some joined into passages) fit one 2K prompt"
    )
    assert short.chain == "refine" and short.calls > 1, "a 256-token window reads them over several prompts"


def test_the_prompt_is_upstreams_stuff_prompt_in_the_template_and_fits_the_window(
    cmrc_retriever, make_runner
):
    runner = make_runner(window=1024)
    answer = answer_question(QUESTION, cmrc_retriever, runner, k=4, chain="stuff")
    [messages] = runner.backend.messages
    context = "\n\n".join(hit.text for hit in answer.sources)
    assert messages == [
        {"role": "user", "content": prompts.STUFF_QA.fill(context=context, question=QUESTION)}
    ]
    assert runner.backend.prompts == [alpaca2(f"{context}\n{QUESTION}")]
    assert answer.prompt_tokens[0] + runner.answer_tokens <= 1024


@pytest.mark.parametrize("window", [128, 256, 700])
def test_the_question_is_never_cut_and_the_prompt_never_exceeds_the_window(
    window, cmrc_retriever, make_runner
):
    runner = make_runner(window=window)
    question = QUESTION * 3
    answer = answer_question(question, cmrc_retriever, runner, k=6)
    assert answer.sources, "at least the best chunk is read, cut if need be"
    for messages in runner.backend.messages:  # RecordingBackend also checks prompt + answer <= window
        assert question in messages[-1]["content"]
    if window == 128:
        assert answer.cut and answer.chain == "refine"


def test_a_question_that_leaves_no_room_is_an_error_not_a_cut(cmrc_retriever, make_runner):
    with pytest.raises(DocQAError, match="a question is never cut"):
        answer_question(QUESTION * 20, cmrc_retriever, make_runner(window=128), k=2)


def test_auto_refines_over_groups_when_the_chunks_do_not_fit_one_prompt(cmrc_retriever, make_runner):
    runner = make_runner(window=256)
    answer = answer_question(QUESTION, cmrc_retriever, runner, k=4)
    assert answer.chain == "refine" and answer.calls == len(runner.backend.messages) >= 2
    first, *steps = [messages[-1]["content"] for messages in runner.backend.messages]
    assert first.startswith("以下为背景知识：\n") and first.endswith(
        f"请根据以上背景知识, 回答这个问题：{QUESTION}。"
    )
    for step, previous in zip(steps, runner.calls, strict=False):
        assert step.startswith(f"这是原始问题: {QUESTION}\n已有的回答: {previous.completion.text}\n")
    sent = "".join(m[-1]["content"] for m in runner.backend.messages)
    # every source reaches the model; a passage of joined chunks too long for one 256-token step is
    # read from its beginning (cut, as any text too long for a prompt is)
    assert all(hit.text in sent or (answer.cut and hit.text[:40] in sent) for hit in answer.sources)
    assert sum(hit.chunks for hit in answer.sources) == 4

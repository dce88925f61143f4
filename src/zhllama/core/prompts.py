"""The upstream Chinese QA and summary prompts, as data, with a safe way to fill them.

Each text stands where ``{instruction}`` goes in the Alpaca-2 template (the chat model wraps it);
strings checked against ymcui/Chinese-LLaMA-Alpaca-2 ``scripts/langchain`` (``langchain_qa.py``,
``langchain_sum.py``) and ``scripts/privategpt``. Upstream has no map-reduce QA prompt: zhllama's
map-reduce QA asks ``stuff_qa`` of each document, then of the joined partial answers. Summaries
map-reduce with ``summary`` at both steps, as LangChain's ``load_summarize_chain`` does by default.
"""

import re
from dataclasses import dataclass

_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Prompt:
    """An upstream prompt: its ``text`` with ``{field}`` placeholders and where it comes from."""

    name: str
    text: str
    source: str

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_FIELD.findall(self.text)))

    def fill(self, **values: str) -> str:
        """The text with every placeholder replaced in one pass.

        Values are inserted verbatim (braces or placeholder-like text inside them stay as typed);
        a missing or unexpected field raises ``KeyError`` naming it.
        """
        missing = [name for name in self.fields if name not in values]
        extra = [name for name in values if name not in self.fields]
        if missing or extra:
            raise KeyError(
                f"prompt {self.name!r} takes {', '.join(self.fields)}; missing {missing}, unexpected {extra}"
            )
        return _FIELD.sub(lambda match: values[match.group(1)], self.text)


STUFF_QA = Prompt("stuff_qa", "{context}\n{question}", "scripts/langchain/langchain_qa.py (stuff)")
STUFF_QA_PRIVATEGPT = Prompt("stuff_qa_privategpt", "{context}\n\n{question}", "scripts/privategpt")
REFINE_QA_INITIAL = Prompt(
    "refine_qa_initial",
    "以下为背景知识：\n{context_str}\n请根据以上背景知识, 回答这个问题：{question}。",
    "scripts/langchain/langchain_qa.py (refine, initial)",
)
REFINE_QA_STEP = Prompt(
    "refine_qa_step",
    "这是原始问题: {question}\n已有的回答: {existing_answer}\n"
    "现在还有一些文字，（如果有需要）你可以根据它们完善现有的回答。\n\n{context_str}\n\n\n请根据新的文段，进一步完善你的回答。",
    "scripts/langchain/langchain_qa.py (refine, step)",
)
SUMMARY = Prompt("summary", "请为以下文字写一段摘要:\n{text}", "scripts/langchain/langchain_sum.py")
SUMMARY_REFINE_STEP = Prompt(
    "summary_refine_step",
    "已有一段摘要：{existing_answer}\n现在还有一些文字，（如果有需要）你可以根据它们完善现有的摘要。\n{text}\n\n"
    "如果这段文字没有用，返回原来的摘要即可。请你生成一个最终的摘要。",
    "scripts/langchain/langchain_sum.py (refine, step)",
)

PROMPTS = {
    prompt.name: prompt
    for prompt in (
        STUFF_QA,
        STUFF_QA_PRIVATEGPT,
        REFINE_QA_INITIAL,
        REFINE_QA_STEP,
        SUMMARY,
        SUMMARY_REFINE_STEP,
    )
}

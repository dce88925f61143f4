"""``docqa_query_engine``: a LlamaIndex ``RetrieverQueryEngine`` over a docqa store with upstream's prompts.

Retrieval is docqa's (``DocQARetriever``: the ranking ``zhllama qa search`` gives, so the engine's
retrieval numbers are docqa's); synthesis is LlamaIndex's ``get_response_synthesizer`` with upstream's
Chinese refine-initial prompt as ``text_qa_template`` and its refine step as ``refine_template``, each
sent to ``ZhllamaLLM`` as one user message and wrapped in the Alpaca-2 template with the default system
prompt, as upstream's scripts do. ``response_mode`` is LlamaIndex's (``refine`` by default, upstream's
chain type; ``compact`` packs chunks into the context window first).

The reply budget follows the model's window: ``ZhllamaLLM.metadata.num_output`` is at most a quarter of
it, and the refine synthesizers reserve that much for the answer a refine step carries forward (instead
of LlamaIndex's fixed 500 tokens, which no 256-token model can give).
"""

import os
from typing import Any

from llama_index.core import PromptHelper, get_response_synthesizer
from llama_index.core.llms import LLM
from llama_index.core.prompts import BasePromptTemplate
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import CompactAndRefine, Refine, ResponseMode

from zhllama.adapters.llamaindex.prompts import REFINE_TEMPLATE, TEXT_QA_TEMPLATE
from zhllama.adapters.llamaindex.retrieval import DocQARetriever
from zhllama.docqa.store import DEFAULT_COLLECTION, Store


def model_prompt_helper(llm: LLM) -> PromptHelper:
    """LlamaIndex's context packing measured with the model's tokenizer (not tiktoken's GPT one)."""
    from zhllama.core.tokenizer import encode_text

    tokenizer = llm.backend.tokenizer
    return PromptHelper.from_llm_metadata(llm.metadata, tokenizer=lambda text: encode_text(tokenizer, text))


def docqa_query_engine(
    llm: LLM,
    store: Store | None = None,
    *,
    db: str | os.PathLike | None = None,
    chroma_url: str | None = None,
    collection: str = DEFAULT_COLLECTION,
    mode: str = "auto",
    similarity_top_k: int = 3,
    response_mode: ResponseMode | str = ResponseMode.REFINE,
    text_qa_template: BasePromptTemplate = TEXT_QA_TEMPLATE,
    refine_template: BasePromptTemplate = REFINE_TEMPLATE,
    streaming: bool = False,
    **synthesizer_kwargs: Any,
) -> RetrieverQueryEngine:
    """A query engine over ``store`` (or the store at ``db`` / ``chroma_url``, which must exist).

    With a ``ZhllamaLLM`` the synthesizer counts tokens with the model's tokenizer (``model_prompt_helper``).
    ``engine.query("问题")`` returns a ``Response`` whose ``source_nodes`` carry docqa's citations.
    """
    if store is None:
        store = Store(db=db, chroma_url=chroma_url, collection=collection, create=False)
    retriever = DocQARetriever.from_store(store, mode=mode, similarity_top_k=similarity_top_k)
    if "prompt_helper" not in synthesizer_kwargs and hasattr(llm, "count_tokens"):
        synthesizer_kwargs["prompt_helper"] = model_prompt_helper(llm)
    mode = ResponseMode(response_mode)
    settings = {
        "llm": llm,
        "text_qa_template": text_qa_template,
        "refine_template": refine_template,
        "streaming": streaming,
        **synthesizer_kwargs,
    }
    refining = {ResponseMode.REFINE: Refine, ResponseMode.COMPACT: CompactAndRefine}.get(mode)
    if refining is not None:
        synthesizer = refining(response_padding_size=llm.metadata.num_output, **settings)
    else:
        synthesizer = get_response_synthesizer(response_mode=mode, **settings)
    return RetrieverQueryEngine(retriever=retriever, response_synthesizer=synthesizer)

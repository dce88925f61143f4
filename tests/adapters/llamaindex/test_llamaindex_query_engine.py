"""The query engine over a `zhllama qa ingest` store: docqa's ranking, upstream prompts, citations."""

from pathlib import Path

import pytest
from llama_index.core.schema import QueryBundle

from zhllama.adapters.llamaindex import (
    DocQARetriever,
    ZhllamaLLM,
    chroma_vector_retriever,
    completion_to_prompt,
    docqa_query_engine,
)
from zhllama.core import prompts
from zhllama.docqa.retrieval import Retriever


def test_docqa_retriever_returns_docqas_hits_in_order_with_citations(docqa_store, cmrc):
    question = cmrc["questions"][0][0]
    hits = Retriever(docqa_store).retrieve(question, 5)
    nodes = DocQARetriever.from_store(docqa_store, similarity_top_k=5).retrieve(question)
    assert [n.node.node_id for n in nodes] == [h.chunk_id for h in hits]
    assert [n.score for n in nodes] == [h.score for h in hits]
    assert nodes[0].node.metadata["citation"] == hits[0].citation
    assert nodes[0].node.get_content() == hits[0].text


def test_docqa_retriever_finds_the_gold_paragraph_first_for_most_questions(docqa_store, cmrc):
    retriever = DocQARetriever.from_store(docqa_store, similarity_top_k=1)
    top = [retriever.retrieve(q)[0].node.metadata["source"] for q, _ in cmrc["questions"]]
    correct = sum(
        source.endswith(f"{gold:03d}.txt") for source, (_, gold) in zip(top, cmrc["questions"], strict=True)
    )
    assert correct / len(top) > 0.9


def test_plain_chroma_vector_retrieval_reads_the_same_collection(docqa_store, cmrc):
    nodes = chroma_vector_retriever(docqa_store, similarity_top_k=3).retrieve(
        QueryBundle(cmrc["questions"][0][0])
    )
    ids = {chunk_id for chunk_id, _, _ in docqa_store.records(include=())}
    assert len(nodes) == 3 and {n.node.node_id for n in nodes} <= ids
    for node in nodes:  # the chunk's text and citation, as DocQARetriever gives them
        ((text, meta),) = docqa_store.get([node.node.node_id]).values()
        assert node.node.get_content() == text and text
        assert node.node.metadata["source"] == meta["source"] and node.node.metadata["citation"]


def test_plain_chroma_vector_retrieval_takes_the_best_of_every_part(
    docqa_store, cmrc, tokenizer_dir, tmp_path, monkeypatch
):
    """A store in several Chroma collections (``docqa.store.PART_CHUNKS``) answers as one does."""
    from zhllama.docqa import store as store_module
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.splitting import SplitSettings, token_counter

    monkeypatch.setattr(store_module, "PART_CHUNKS", 5)
    docs = Path(next(meta["source"] for _, _, meta in docqa_store.records())).parent
    count, tokenizer_id = token_counter(tokenizer_dir)
    parted = store_module.Store(db=tmp_path / "db")
    ingest([docs], parted, count, SplitSettings(tokenizer_id=tokenizer_id))
    assert len(parted.parts) > 2
    for question, _ in cmrc["questions"][:5]:
        one, several = (
            chroma_vector_retriever(store, similarity_top_k=4).retrieve(QueryBundle(question))
            for store in (docqa_store, parted)
        )
        assert [n.node.get_content() for n in several] == [n.node.get_content() for n in one]
        assert [n.score for n in several] == pytest.approx([n.score for n in one], abs=1e-6)


def test_query_engine_asks_with_upstreams_refine_prompts(docqa_store, cmrc, long_backend, recording):
    recorder = recording(long_backend)
    llm = ZhllamaLLM(backend=recorder, greedy=True, max_new_tokens=4)
    engine = docqa_query_engine(llm, docqa_store, similarity_top_k=2)
    question = cmrc["questions"][0][0]
    response = engine.query(question)
    first, second = (n.node.get_content() for n in response.source_nodes)
    assert len(recorder.prompts) == 2
    assert recorder.prompts[0] == completion_to_prompt(
        prompts.REFINE_QA_INITIAL.fill(context_str=first, question=question)
    )
    assert recorder.prompts[1].startswith(
        completion_to_prompt(f"这是原始问题: {question}\n已有的回答: ")[:-8]
    )
    assert second in recorder.prompts[1]
    assert response.source_nodes[0].node.metadata["citation"]


def test_query_engine_opens_a_store_by_path(docqa_store, long_backend):
    llm = ZhllamaLLM(backend=long_backend, greedy=True, max_new_tokens=2)
    engine = docqa_query_engine(llm, db=docqa_store.db, similarity_top_k=1, response_mode="compact")
    assert len(engine.retrieve(QueryBundle("北京"))) == 1

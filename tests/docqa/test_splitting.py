"""Chunks are whole sentences, fit the token budget, overlap, and point back into the text."""

from itertools import pairwise

from zhllama.docqa.splitting import sentence_spans, split_text, split_upstream

TEXT = (
    "长城是中国古代的军事防御工程。它东起山海关，西至嘉峪关！你去过吗？"
    "“不到长城非好汉。”毛泽东写道。长城在明朝得到大规模修建；今天它是世界文化遗产……\n"
    "第二段没有句号\n" + "黄河流经九个省区，全长五千四百多公里。" * 12
)


def test_sentences_end_at_chinese_terminators_closing_quotes_and_line_breaks():
    sentences = [TEXT[a:b] for a, b in sentence_spans(TEXT)][:7]
    assert sentences == [
        "长城是中国古代的军事防御工程。",
        "它东起山海关，西至嘉峪关！",
        "你去过吗？",
        "“不到长城非好汉。”",
        "毛泽东写道。",
        "长城在明朝得到大规模修建；",
        "今天它是世界文化遗产……",
    ]


def test_chunks_fit_the_budget_in_our_tokens_and_map_back_to_the_text(count_tokens):
    chunks = split_text(TEXT, count_tokens, chunk_tokens=48, overlap_tokens=12)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text == TEXT[chunk.start : chunk.end]
        assert count_tokens(chunk.text) <= 48
    assert "".join(TEXT[c.start : c.end] for c in chunks).replace("\n", "").count("黄河") >= 12


def test_consecutive_chunks_overlap_by_whole_sentences_within_the_overlap_budget(count_tokens):
    chunks = split_text(TEXT, count_tokens, chunk_tokens=48, overlap_tokens=20)
    overlaps = [b for a, b in pairwise(chunks) if b.start < a.end]
    assert overlaps, "expected overlapping chunks"
    for a, b in pairwise(chunks):
        if b.start < a.end:
            assert count_tokens(TEXT[b.start : a.end]) <= 20 + 2
            assert TEXT[b.start - 1] in "。！？；…\n”" or b.start == 0


def test_a_sentence_longer_than_the_budget_is_cut_at_clauses_then_characters(count_tokens):
    text = "这是一个没有任何标点的很长很长的句子" * 20
    chunks = split_text(text, count_tokens, chunk_tokens=32, overlap_tokens=0)
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 32 for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_upstream_splitter_counts_600_characters_with_100_overlap():
    chunks = split_upstream("很长的文本" * 300)
    assert all(len(c.text) <= 600 for c in chunks)
    assert chunks[1].start < chunks[0].end

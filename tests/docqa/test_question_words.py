"""Question words weigh less in a query: the terms that touch an interrogative (its characters, and
the pairs with a character inside it) count a quarter, so a passage that repeats 是谁 no longer
outranks the one that holds the question's distinctive word."""

from zhllama.docqa import lexical
from zhllama.docqa.lexical import LexicalIndex, question_word_terms
from zhllama.docqa.question_words import inside_question_words


def _readable(terms) -> set[str]:
    pair = int(lexical.PAIR)
    return {chr(t) if t < pair else chr((t >> 21) & 0x1FFFFF) + chr(t & 0x1FFFFF) for t in terms.tolist()}


def test_the_terms_touching_a_question_word_are_its_characters_and_the_pairs_around_them():
    assert inside_question_words("他是谁的父亲").tolist() == [False, False, True, False, False, False]
    assert _readable(question_word_terms("他是谁的父亲")) == {"谁", "是谁", "谁的"}
    assert _readable(question_word_terms("他是誰的父親")) == {"谁", "是谁", "谁的"}, "Traditional too"
    assert _readable(question_word_terms("长城有多长？")) == {"多", "长", "有多", "多长"}
    assert not len(question_word_terms("中国第二长河黄河")), "no question word, nothing weighs less"


def test_interrogative_pairs_no_longer_outweigh_the_distinctive_word():
    texts = {
        "optics": "《光学》是牛顿的著作，出版于一七零四年，书中讨论了颜色、折射和望远镜，"
        "影响了此后一百年的物理研究。",
        "riddle": "门外的人是谁？他问我是谁，我问他是谁，谁也不知道谁是谁。",
        "school": "他在大学学习化学和数学，毕业后留校教学。",
        "sun": "清晨的阳光照进窗户，灯光渐渐暗了下去。",
        "river": "长江是中国第一长河，流经十一个省份，最后注入东海。",
        "panda": "大熊猫是中国特有的动物，主要吃竹子，生活在四川的山里。",
    }
    # plain: no term-kind weight at all (the function-pair weight alone, 是谁 and 谁的 holding 是
    # and 的, already tips this example)
    plain = LexicalIndex.build(
        list(texts), list(texts.values()), question_word_weight=1.0, function_pair_weight=1.0
    )
    weighted = LexicalIndex.build(list(texts), list(texts.values()))
    for question in ("《光學》的作者是誰？", "《光学》是谁写的？"):
        assert plain.search(question, 1)[0][0] == "riddle", question
        assert weighted.search(question, 1)[0][0] == "optics", question

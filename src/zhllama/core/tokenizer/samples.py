"""Built-in sample sentences for ``zhllama tokenizer check`` when the user passes no text.

Written for zhllama (not taken from any corpus): everyday Chinese with the word pairs on which a
rank-based BPE and SentencePiece tend to disagree, plus English, mixed code and whitespace. A
check over the user's own text (``--data``) is more telling.
"""

BUILTIN_SENTENCES: tuple[str, ...] = (
    "这件事情不可能是真的，我们还需要进一步核实。",
    "明天下午三点我们在图书馆门口见面吧。",
    "天下午后的阳光照在湖面上，显得格外宁静。",
    "人工智能技术正在改变我们的工作方式和生活习惯。",
    "请你用简洁的语言总结一下这篇文章的主要观点。",
    "他从小就喜欢读书，长大以后成为了一名大学教授。",
    "今天的天气非常好，适合出去散步或者骑自行车。",
    "这个问题的答案并不简单，需要从多个角度进行分析。",
    "中国的四大发明包括造纸术、印刷术、火药和指南针。",
    "我们应该尊重每一个人的选择，即使我们并不完全同意。",
    "北京是中华人民共和国的首都，也是全国的政治文化中心。",
    "如果你有任何问题，可以随时通过电子邮件联系我们。",
    "学习一门新的编程语言需要时间和耐心，也需要大量练习。",
    "这家餐厅的菜做得很地道，价格也比较实惠，值得推荐。",
    "经过几个月的努力，项目终于按时完成并顺利上线了。",
    "孩子们在公园里放风筝，笑声传得很远很远。",
    "你是一个乐于助人的助手。请你提供专业、有逻辑、内容真实、有价值的详细回复。",
    "以下为背景知识：\n长江是中国第一长河。\n请根据以上背景知识, 回答这个问题：长江有多长？",
    "The quick brown fox jumps over the lazy dog.",
    "Large language models are trained on trillions of tokens.",
    "用 Python 写一个函数：def add(a, b): return a + b",
    "在 2023 年，Chinese-LLaMA-2 把词表扩充到了 55,296 个。",
    "  前面有两个空格，后面有一个制表符\t",
    "全角标点：“你好”，（测试）！？；：……——《书名》",
    "表情符号也要正确处理 😀🎉👍",
    "[INST] <<SYS>>\nYou are a helpful assistant. 你是一个乐于助人的助手。\n<</SYS>>\n\n你好 [/INST]",
)

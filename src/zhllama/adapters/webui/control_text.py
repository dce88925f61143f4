"""Keep control-token strings a person types as text in every webui loader.

webui tokenizes the whole prompt string with special-token matching (transformers'
``tokenizer.encode``, llama.cpp's ``/tokenize``), so a typed ``</s>`` would end the turn for the
model. A word joiner (U+2060, invisible, no meaning to the model) after the ``<`` stops the
match: the text stays text. Escaping is idempotent, and only what goes into webui's internal
history is changed; the visible chat shows what was typed.
"""

CONTROL_STRINGS = ("<s>", "</s>", "<unk>")
JOINER = "\u2060"


def keep_as_text(text: str) -> str:
    """``text`` with every control string broken by a word joiner after its ``<``."""
    for control in CONTROL_STRINGS:
        text = text.replace(control, "<" + JOINER + control[1:])
    return text

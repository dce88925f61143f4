"""Which template a model should use: a plugin's ``choose_template`` answer, else the family's rule.

The family's rule reads the vocabulary size, which tells the generations apart: Chinese-LLaMA-2 /
Chinese-Alpaca-2 have 55,296 pieces (``alpaca-2``), first-generation Chinese-LLaMA / Chinese-Alpaca
49,953 / 49,954 (``alpaca``, the ``### Instruction:`` layout). Anything else gets ``alpaca-2``.
"""

import os
from collections.abc import Mapping
from typing import Any

from zhllama.core.model_config import config_path, read_model_config
from zhllama.core.templates.registry import DEFAULT_TEMPLATE

TEMPLATE_BY_VOCABULARY = {55296: "alpaca-2", 49953: "alpaca", 49954: "alpaca"}


def template_for_config(config: Mapping[str, Any]) -> str:
    """The template name for a ``config.json`` dict: a plugin's choice, else the family's rule."""
    from zhllama.plugins import first_result

    chosen = first_result("choose_template", config=dict(config))
    if isinstance(chosen, str) and chosen:
        return chosen
    vocabulary = config.get("vocab_size")
    return (
        TEMPLATE_BY_VOCABULARY.get(vocabulary, DEFAULT_TEMPLATE)
        if isinstance(vocabulary, int)
        else DEFAULT_TEMPLATE
    )


def template_for_model(model_dir: str | os.PathLike) -> str:
    """``template_for_config`` of the folder's ``config.json``; ``alpaca-2`` for a folder without one."""
    if not config_path(model_dir).is_file():
        return DEFAULT_TEMPLATE
    return template_for_config(read_model_config(model_dir))

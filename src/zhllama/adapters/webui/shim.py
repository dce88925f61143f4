"""The text of the ``script.py`` that ``zhllama webui install`` puts into webui.

It holds no logic: it re-exports the hooks of the installed zhllama package, so upgrading
zhllama upgrades the extension without reinstalling it. If zhllama cannot be imported in webui's
Python, webui's loader would re-raise a ``ModuleNotFoundError`` and stop; the shim catches the
error instead, logs what to install where, and leaves an extension without hooks.
"""

MARKER = "# zhllama-webui-extension"

# The installer puts the marker line (with a checksum of the rest) in front of this text and replaces
# REQUIREMENT_TOKEN with what pip installs zhllama from (zhllama is not on PyPI: its checkout path).
REQUIREMENT_TOKEN = "ZHLLAMA_REQUIREMENT"
SCRIPT = '''"""zhllama's text-generation-webui extension: Chinese-Alpaca-2 prompt, tokenizer, sampling, RoPE.

A shim: the hooks live in the installed zhllama package (zhllama.adapters.webui.extension).
"""

import logging
import sys

try:
    from zhllama.adapters.webui.extension import (  # noqa: F401
        chat_input_modifier,
        custom_generate_chat_prompt,
        input_modifier,
        params,
        setup,
        state_modifier,
        ui,
    )
except Exception as exc:  # zhllama missing or broken here: log it, keep webui running
    logging.getLogger("textgen").error(
        "zhllama extension disabled: cannot import zhllama in %s (%s: %s). Install it into "
        "text-generation-webui's environment: %s -m pip install 'ZHLLAMA_REQUIREMENT'",
        sys.executable,
        type(exc).__name__,
        exc,
        sys.executable,
    )
    params = {"display_name": "zhllama (not installed)"}
'''

"""Convert a family checkpoint (Llama architecture, SentencePiece vocabulary) into a GGUF file.

``export_gguf(model_dir, out, dtype="f32"|"f16")`` writes a file llama.cpp loads as ``llama``
with the full SentencePiece vocabulary (pieces, scores, types), so llama.cpp segments text as
SentencePiece does, and the Alpaca-2 chat template in its metadata. ``read_config(gguf)`` reads
back what the RoPE planner needs. Only this package and ``zhllama.backends`` import ``gguf``; it
is imported lazily (``pip install 'zhllama[llamacpp]'``).
"""

from zhllama.checkpoints.gguf.reader import read_config
from zhllama.checkpoints.gguf.writer import export_gguf

__all__ = ["export_gguf", "read_config"]

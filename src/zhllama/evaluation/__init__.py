"""Long-context evaluation: perplexity of a model over text windows under each RoPE scaling method.

- ``read_corpus(paths, encode, tail_tokens=None)``: token ids of UTF-8 text files (clear errors);
- ``cut_windows(streams, length, max_windows_per_file=None)``: non-overlapping windows;
- ``EVAL_METHODS`` / ``rope_request(method, config, length)``: what ``none``, ``pi``, ``ntk``,
  ``auto``, ``yarn``, ``dynamic``, ``dynamic_yarn`` mean as a ``zhllama.load`` request;
- ``window_nll`` / ``perplexity``: per-position losses and the whole-window / last-slice perplexity;
- ``run_perplexity(model, ...)``: the sweep behind ``zhllama eval ppl``, of a model folder
  (transformers) or a GGUF file (llama.cpp) on the same windows (``runtimes``).

Importing this package imports neither torch nor transformers.
"""

from zhllama.evaluation.corpus import TokenStream, cut_windows, read_corpus
from zhllama.evaluation.methods import EVAL_METHODS, parse_lengths, parse_methods, rope_request
from zhllama.evaluation.perplexity import Perplexity, perplexity, window_nll
from zhllama.evaluation.sweep import SweepResult, run_perplexity

__all__ = [
    "EVAL_METHODS",
    "Perplexity",
    "SweepResult",
    "TokenStream",
    "cut_windows",
    "parse_lengths",
    "parse_methods",
    "perplexity",
    "read_corpus",
    "rope_request",
    "run_perplexity",
    "window_nll",
]

"""``run_perplexity``: every (length, method) pair of a model on some text, through zhllama's loaders.

Each pair loads the model (a folder through ``zhllama.load``, a GGUF through llama.cpp) with the
RoPE settings ``rope_request`` gives (so the numbers measure zhllama's own code path, ``plan``
included); pairs asking for the same settings at the same length (e.g. every method within the
trained length) share one load and one measurement. Time and peak
memory are measured per pair: on CUDA the peak allocated memory of that pair, on CPU the process's
resident-set high-water mark so far (the OS keeps no per-phase peak).
"""

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zhllama.errors import ZhllamaError
from zhllama.evaluation.corpus import cut_windows, read_corpus
from zhllama.evaluation.methods import parse_lengths, parse_methods, plan_choice, rope_request
from zhllama.evaluation.perplexity import perplexity


@dataclass(frozen=True)
class SweepRow:
    """One (length, method) measurement."""

    length: int
    method: str
    rope_parameters: dict[str, Any]
    windows: int
    predictions: int
    ppl_all: float
    ppl_last: float
    seconds: float
    peak_memory_mib: float


@dataclass(frozen=True)
class SweepResult:
    """All rows, the settings they were measured with, and ``plan``'s choice per length."""

    model: str
    data: list[str]
    tail_tokens: int | None
    max_windows_per_file: int | None
    last: int
    trained_length: int
    dtype: str
    memory: str
    plan: dict[int, str]
    rows: list[SweepRow] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``plan`` keys become strings)."""
        data = asdict(self)
        data["plan"] = {str(length): method for length, method in self.plan.items()}
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)


def _peak_memory_mib(device: str) -> tuple[float, str]:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20, "cuda peak allocated per pair"
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS so far"


def run_perplexity(
    model_dir: str | os.PathLike,
    data: Sequence[str | os.PathLike],
    lengths: Sequence[int] | str,
    methods: Sequence[str] | str = ("none", "pi", "ntk", "auto", "yarn"),
    *,
    last: int | None = None,
    tail_tokens: int | None = None,
    max_windows_per_file: int | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    threads: int | None = None,
    on_window: Callable[[int, str], None] | None = None,
    on_start: Callable[[int, str, int], None] | None = None,
) -> SweepResult:
    """Perplexity of ``model_dir`` on ``data`` for each length and method.

    ``model_dir`` is a model folder (transformers, in ``dtype`` on ``device``) or a GGUF file (llama.cpp,
    on ``threads`` threads, with the RoPE plan's llama.cpp settings): the same windows of the same
    tokens either way (``zhllama.evaluation.runtimes``).
    ``last`` defaults to the shortest length minus 1, so every window has the slice.
    ``on_start(length, method, windows)`` and ``on_window(length, method)`` report progress.
    Bad input (unknown method, non-integer length, missing or non-UTF-8 file, a slice longer than
    the shortest window) raises ``ZhllamaError`` before any model is loaded.
    """
    from zhllama.core.rope_scaling import describe
    from zhllama.evaluation.runtimes import open_runtime

    lengths = parse_lengths(lengths)
    methods = parse_methods(methods)
    last = lengths[0] - 1 if last is None else last
    if isinstance(last, bool) or not isinstance(last, int) or not 1 <= last <= lengths[0] - 1:
        raise ZhllamaError(
            f"the last slice must be 1..{lengths[0] - 1} positions (the shortest window's predictions), "
            f"got {last!r}"
        )
    runtime = open_runtime(model_dir, dtype, device, threads)
    config = runtime.config
    streams = read_corpus(data, runtime.encoder(), tail_tokens)
    windows = {length: cut_windows(streams, length, max_windows_per_file) for length in lengths}

    result = SweepResult(
        model=str(Path(model_dir).expanduser()),
        data=[str(path) for path in data],
        tail_tokens=tail_tokens,
        max_windows_per_file=max_windows_per_file,
        last=last,
        trained_length=describe(config).trained_length,
        dtype=runtime.dtype,
        memory=_peak_memory_mib(device)[1],
        plan={length: plan_choice(config, length) for length in lengths},
    )
    requests = {  # every request checked before any model is loaded
        (length, method): rope_request(method, config, length) for length in lengths for method in methods
    }
    measured: dict[tuple[int, str], SweepRow] = {}
    for length in lengths:
        for method in methods:
            request = requests[(length, method)]
            key = (length, json.dumps(request, sort_keys=True))
            if key in measured:
                result.rows.append(_renamed(measured[key], method))
                continue
            if on_start:
                on_start(length, method, len(windows[length]))
            scorer = runtime.load(request, length)
            if device.startswith("cuda"):
                import torch

                torch.cuda.reset_peak_memory_stats()
            started = time.perf_counter()
            losses = []
            for window in windows[length]:
                losses.append(scorer.nll(window))
                if on_window:
                    on_window(length, method)
            seconds = time.perf_counter() - started
            score = perplexity(losses, last)
            row = SweepRow(
                length=length,
                method=method,
                rope_parameters=scorer.rope_parameters,
                windows=score.windows,
                predictions=score.predictions,
                ppl_all=score.all,
                ppl_last=score.last,
                seconds=round(seconds, 3),
                peak_memory_mib=round(_peak_memory_mib(device)[0], 1),
            )
            measured[key] = row
            result.rows.append(row)
            del scorer
    return result


def _renamed(row: SweepRow, method: str) -> SweepRow:
    from dataclasses import replace

    return replace(row, method=method, seconds=0.0)


def format_table(result: SweepResult) -> str:
    """A Markdown table: one row per length, one ``all / last`` cell per method; ``*`` marks plan's choice."""
    methods = list(dict.fromkeys(row.method for row in result.rows))
    cells = {(row.length, row.method): row for row in result.rows}
    lines = [
        "| L | windows | " + " | ".join(methods) + " | plan |",
        "|---|---|" + "---|" * len(methods) + "---|",
    ]
    for length in sorted({row.length for row in result.rows}):
        out = []
        for method in methods:
            row = cells[(length, method)]
            mark = "*" if result.plan[length] == method else ""
            out.append(f"{row.ppl_all:.1f} / {row.ppl_last:.1f}{mark}")
        windows = cells[(length, methods[0])].windows
        lines.append(f"| {length} | {windows} | " + " | ".join(out) + f" | {result.plan[length]} |")
    return "\n".join(lines)

"""``tune``: measure the candidate RoPE plans for one context on the user's own text, keep the best.

``plan`` chooses from evidence measured on one small model and held-out novels; a user's model and
text may rank the methods otherwise. ``tune`` measures every candidate (each method that fits the
checkpoint and that the target runtime can run; grouped attention with several group sizes and
windows within its validity rule, ``selfextend.candidates``) through ``run_perplexity``, so through
``zhllama.load``, at the one context length, and returns the winner with the whole table: how to
``load`` it, the CLI options that select it, and each runtime's settings.

The measurement runs in transformers whatever the runtime; a length-dependent method (``auto``,
``dynamic``, ``dynamic_yarn``) becomes a fixed setting in llama.cpp, so its score there is an estimate.
"""

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zhllama.errors import ZhllamaError
from zhllama.evaluation.methods import EVAL_METHODS, GROUPED, grouped_name, parse_methods, rope_request
from zhllama.evaluation.sweep import SweepRow, run_perplexity

RANKINGS = ("all", "last")
"""What the winner is best at: ``all`` predictions of every window, or each window's ``last`` slice."""


def candidates(config: dict[str, Any], context: int, runtime: str = "transformers") -> list[str]:
    """The evaluation names ``tune`` measures for ``config`` at ``context`` tokens in ``runtime``."""
    from zhllama.core.rope_scaling import describe, methods, selfextend
    from zhllama.core.rope_scaling.planning import cannot_run, check_runtime

    runtime = check_runtime(runtime)
    checkpoint = describe(config)
    if context <= checkpoint.trained_length:
        raise ZhllamaError(
            f"`context` {context} is within the checkpoint's trained length {checkpoint.trained_length}: "
            "there is nothing to tune (load it without a context)"
        )
    registered = methods()
    names = []
    for name, rope in EVAL_METHODS.items():
        method = registered.get(rope) if rope else None
        if method is None or checkpoint.kind not in method.checkpoints or cannot_run(method, runtime):
            continue
        if rope == GROUPED:
            names += [
                grouped_name(**pair) for pair in selfextend.candidates(checkpoint.trained_length, context)
            ]
        else:
            names.append(name)
    return names


@dataclass(frozen=True)
class TuneResult:
    """The measured candidates and the winner, in every form a user needs it."""

    model: str
    data: list[str]
    context: int
    runtime: str
    by: str
    last: int
    winner: str
    load: dict[str, Any]
    cli: list[str]
    plan: dict[str, Any]
    rows: list[SweepRow]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    def table(self) -> str:
        """The measurements as a Markdown table, best first, the winner marked ``*``."""
        key = "ppl_all" if self.by == "all" else "ppl_last"
        lines = [
            f"| candidate | all | last {self.last} | seconds | peak MiB |",
            "|---|---|---|---|---|",
        ]
        for row in sorted(self.rows, key=lambda row: getattr(row, key)):
            mark = "*" if row.method == self.winner else ""
            lines.append(
                f"| {row.method}{mark} | {row.ppl_all:.2f} | {row.ppl_last:.2f} | {row.seconds:.1f} "
                f"| {row.peak_memory_mib:.0f} |"
            )
        return "\n".join(lines)


def tune(
    model_dir: str | os.PathLike,
    data: Sequence[str | os.PathLike],
    context: int,
    *,
    methods: Sequence[str] | str | None = None,
    runtime: str = "transformers",
    by: str = "all",
    last: int | None = None,
    tail_tokens: int | None = None,
    max_windows_per_file: int | None = None,
    dtype: str = "float32",
    device: str = "cpu",
    on_start: Callable[[int, str, int], None] | None = None,
    on_window: Callable[[int, str], None] | None = None,
) -> TuneResult:
    """Measure ``methods`` (default: ``candidates``) on ``data`` in ``context``-token windows and
    return the one with the lowest perplexity ``by`` all predictions or the ``last`` slice (default:
    the trained length - 1, as the 1x figure). Bad input raises ``ZhllamaError`` before any model
    is loaded (``run_perplexity`` checks every candidate first)."""
    from zhllama.checkpoints.model_loader import check_model_folder
    from zhllama.core.model_config import read_model_config
    from zhllama.core.rope_scaling import describe

    if by not in RANKINGS:
        raise ZhllamaError(f"unknown ranking `by` {by!r}: use one of {', '.join(RANKINGS)}")
    if isinstance(context, bool) or not isinstance(context, int) or context < 2:
        raise ZhllamaError(f"`context` must be a number of tokens >= 2, got {context!r}")
    folder = Path(model_dir).expanduser()
    check_model_folder(folder)
    config = read_model_config(folder)
    names = candidates(config, context, runtime) if methods is None else parse_methods(methods)
    plans = {name: _plan(config, context, name, runtime) for name in names}
    trained = describe(config).trained_length
    last = min(trained, context) - 1 if last is None else last
    result = run_perplexity(
        folder,
        data,
        [context],
        names,
        last=last,
        tail_tokens=tail_tokens,
        max_windows_per_file=max_windows_per_file,
        dtype=dtype,
        device=device,
        on_start=on_start,
        on_window=on_window,
    )
    best = min(result.rows, key=lambda row: row.ppl_all if by == "all" else row.ppl_last)
    chosen = plans[best.method]
    load: dict[str, Any] = {"context": context, "rope_method": chosen.method}
    cli = ["--context", str(context), "--rope-method", chosen.method]
    params = chosen.attention()
    if params:
        load["rope_params"] = params
        for key, value in params.items():
            cli += [f"--{key}", str(value)]
    return TuneResult(
        model=str(folder),
        data=[str(path) for path in data],
        context=context,
        runtime=runtime,
        by=by,
        last=last,
        winner=best.method,
        load=load,
        cli=cli,
        plan=chosen.as_dict(),
        rows=result.rows,
    )


def _plan(config: dict[str, Any], context: int, name: str, runtime: str) -> Any:
    """The ``RopePlan`` that candidate ``name`` stands for (refused when ``runtime`` cannot run it)."""
    from zhllama.core.rope_scaling import RopeReachWarning, plan

    request = rope_request(name, config, context)
    if not request:
        raise ZhllamaError(
            f"candidate {name!r} is no RoPE plan for {context} tokens (plain RoPE past the trained "
            "length): leave it out of `methods`"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RopeReachWarning)  # a method past its reach may still win here
        return plan(config, context, request["rope_method"], request.get("rope_params"), runtime=runtime)

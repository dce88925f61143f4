"""How commands print: ingest reports, the steps of a chain, an answer's sources, progress bars."""

import sys
from typing import Any

import click


def print_ingest_report(report: Any, store: Any, quiet: bool) -> None:
    """What an ingest did. ``quiet`` (an ``--ingest`` before answering): skipped files and a summary
    line on stderr; otherwise every skipped, deleted or updated file and the totals on stdout."""
    for f in report.files:
        if f.action == "skipped" or (not quiet and f.action in ("deleted", "updated")):
            line = f"{f.action:>8}  {f.path}" + (f"  ({f.reason})" if f.reason else "")
            click.secho(line, err=quiet)
    counts = ", ".join(f"{n} {action}" for action, n in report.summary().items() if n or not quiet)
    if quiet:
        click.secho(f"ingested: {counts} -> {store.location}", dim=True, err=True)
    else:
        click.echo(
            f"{counts}; {report.chunks_written} chunks written in {report.seconds:.1f}s -> {store.location}"
        )


def print_sources(answer: Any) -> None:
    """The sources under an answer: rank, score, file and character span (and page)."""
    if not answer.sources:
        click.secho("sources: none (no chunk matched the question)", dim=True)
        return
    click.secho("sources:" + (" (the first was cut to fit the context)" if answer.cut else ""), bold=True)
    for hit in answer.sources:
        page = f" p. {hit.page}" if hit.page is not None else ""
        click.echo(f"  [{hit.rank}] {hit.score:.3f}  {hit.source}  chars {hit.start}-{hit.end}{page}")


class StepAnnouncer:
    """Labels the steps of a multi-call chain on stderr: ``on_chain`` (told the plan) and ``on_call``."""

    def __init__(self) -> None:
        self.kind = "stuff"

    def on_chain(self, kind: str, steps: int) -> None:
        self.kind = kind
        if kind != "stuff":
            click.secho(f"{kind}: {steps} document prompt{'s' if steps != 1 else ''}", dim=True, err=True)

    def on_call(self, prompt_name: str, number: int) -> None:
        if self.kind != "stuff":
            click.secho(f"\n--- call {number}: {prompt_name} ---", dim=True, err=True)


class Progress:
    """A progress bar on stderr that appears with the first report, so that a command failing on its
    input prints its error alone. ``progress(done, total)`` sets the position; use it as a context."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def __call__(self, done: int, total: int, *_: Any) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.length = total
        self.bar.update(done - self.bar.pos)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

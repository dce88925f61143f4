"""``zhllama serve``: an OpenAI-compatible server with document QA and a web page, in one process.

Modules, one concept each: ``app`` (the FastAPI application), ``state`` (what one server serves),
``model`` (the served model: checks, sampling, one generation), ``generation`` (the model's bounded
queue, cancellation), ``schemas`` (OpenAI request bodies), ``errors`` (OpenAI-style error objects),
``guards`` (API key, body size), ``openai_routes`` (models, chat completions, completions,
embeddings), ``library`` (the store, uploads, search), ``ingest_jobs`` (background ingest with
progress), ``docqa_routes`` (documents and search), ``docqa_chat`` (the ``zhllama-docqa`` model),
``page`` (the static web page in ``static/``).

It builds on ``zhllama.backends`` (generation, any runtime) and ``zhllama.docqa`` (store, ingest,
retrieval, answers); FastAPI and uvicorn are imported only when this package is.
"""

from zhllama.server.app import create_app
from zhllama.server.state import DOCQA_MODEL, ServerState

__all__ = ["DOCQA_MODEL", "ServerState", "create_app"]

"""Options several commands share: where the document store is, which model answers, and the
grouped-attention parameters of ``--rope-method selfextend``.

Option names match the library's parameter names (``--db`` sets ``db``, ``--openai-base-url``
sets ``openai_base_url``), so errors that name a parameter show as the option (``command``).
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import click

_STORE_OPTIONS = [
    click.option(
        "--db", type=click.Path(file_okay=False), help="Embedded store folder (Chroma PersistentClient)."
    ),
    click.option("--chroma-url", help="A Chroma server instead of --db, e.g. http://127.0.0.1:8000."),
    click.option("--collection", default="docqa", show_default=True, help="Collection name."),
]


def store_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--db``, ``--chroma-url`` and ``--collection``."""
    for option in reversed(_STORE_OPTIONS):
        function = option(function)
    return function


def open_store(db: str | None, chroma_url: str | None, collection: str, create: bool) -> Any:
    """The ``Store`` the store options name."""
    from zhllama.docqa.store import Store

    return Store(db=db, chroma_url=chroma_url, collection=collection, create=create)


_MODEL_OPTIONS = [
    click.option(
        "--model",
        type=click.Path(),
        help="A local Chinese-Alpaca-2 folder [default: $ZHLLAMA_MODEL, else the tiny shared test model].",
    ),
    click.option("--gguf", type=click.Path(), help="A GGUF file, run with llama.cpp instead of --model."),
    click.option("--openai-base-url", help="An OpenAI-compatible server (.../v1) instead of --model."),
    click.option("--tokenizer", help="Folder with tokenizer.model (for --gguf/--openai-base-url)."),
    click.option(
        "--context",
        type=click.IntRange(min=1),
        default=None,
        help="Context length to load the model with (RoPE).",
    ),
    click.option(
        "--rope-method",
        default=None,
        help="RoPE method for --context (default: the plan's choice), e.g. yarn or selfextend.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Seconds to wait for --openai-base-url's server (each answer or streamed piece) [default: 300].",
    ),
    click.option(
        "--max-new-tokens", type=click.IntRange(min=1), default=None, help="Answer length [default: 512]."
    ),
    click.option("--greedy", is_flag=True, help="Greedy decoding instead of upstream sampling."),
    click.option("--seed", type=int, default=None, help="Seed for sampling."),
    click.option(
        "--draft",
        type=click.Path(),
        default=None,
        help="Speculative decoding with this draft model (same vocabulary): a folder for --model, a GGUF "
        "for --gguf. Same output, faster when the draft agrees.",
    ),
    click.option(
        "--lookup",
        type=click.IntRange(min=1),
        default=None,
        help="Speculative decoding by prompt lookup, proposing N tokens copied from the prompt (suits QA).",
    ),
    click.option(
        "--guidance-scale",
        type=float,
        default=1.0,
        show_default=True,
        help="CFG sampling (transformers only; 1 = off), as upstream's --guidance_scale.",
    ),
    click.option(
        "--negative-prompt",
        default=None,
        help="CFG's negative prompt: the system prompt of the contrasting prompt (needs --guidance-scale).",
    ),
]


@dataclass(frozen=True)
class ModelChoice:
    """What the model options (``model_options``) chose."""

    model: str | None
    gguf: str | None
    openai_base_url: str | None
    tokenizer: str | None
    context: int | None
    rope_method: str | None
    rope_params: dict[str, int]
    timeout: float | None
    max_new_tokens: int | None
    greedy: bool
    seed: int | None
    draft: str | None = None
    lookup: int | None = None
    guidance_scale: float = 1.0
    negative_prompt: str | None = None

    def settings_given(self) -> list[str]:
        """The options given that only a model uses (``tokenizer`` aside: a store uses it too),
        named as in errors (``greedy``, ``group``)."""
        unset = {"greedy": False, "guidance_scale": 1.0}
        names = [
            f.name
            for f in fields(self)
            if f.name not in ("model", "gguf", "openai_base_url", "tokenizer", "rope_params")
            and getattr(self, f.name) != unset.get(f.name)
        ]
        return names + sorted(self.rope_params)

    def spec(self) -> Any:
        """The ``ModelSpec`` of these options (nothing loaded yet); CFG settings the chosen runtime
        cannot honour fail here, before any model loads."""
        from zhllama.backends.base import check_guidance
        from zhllama.backends.selection import resolve_model

        spec = resolve_model(
            self.model,
            self.gguf,
            self.openai_base_url,
            self.tokenizer,
            self.context,
            self.timeout,
            draft=self.draft,
            lookup=self.lookup,
            rope_method=self.rope_method,
            rope_params=self.rope_params,
        )
        speculative = spec.draft is not None or spec.lookup is not None
        check_guidance(self.guidance_scale, self.negative_prompt, spec.kind, speculative)
        return spec

    def guidance(self) -> dict[str, Any]:
        """The CFG keyword arguments of ``Backend.complete``."""
        return {"guidance_scale": self.guidance_scale, "negative_prompt": self.negative_prompt}

    def sampling(self) -> Any:
        """Upstream's sampling with ``--max-new-tokens`` applied."""
        from zhllama.core.sampling import UPSTREAM

        if self.max_new_tokens is None:
            return UPSTREAM
        return replace(UPSTREAM, max_new_tokens=self.max_new_tokens)

    def backend(self, spec: Any) -> Any:
        """Load ``spec``'s model, saying so on stderr."""
        from zhllama.backends.selection import open_backend

        click.secho(f"loading {spec.kind} model {spec.location}", dim=True, err=True)
        return open_backend(spec)

    def runner(self, spec: Any, on_text: Any = None, on_call: Any = None) -> Any:
        """Load ``spec``'s model into a ``PromptRunner`` with upstream sampling and these overrides."""
        from zhllama.docqa.runner import PromptRunner

        return PromptRunner(
            self.backend(spec),
            sampling=self.sampling(),
            greedy=self.greedy,
            seed=self.seed,
            on_text=on_text,
            on_call=on_call,
            **self.guidance(),
        )


_GROUPED_OPTIONS = [
    click.option(
        "--group",
        type=click.IntRange(min=2),
        default=None,
        help="selfextend: group size G (default: fitted to the context).",
    ),
    click.option(
        "--window",
        type=click.IntRange(min=1),
        default=None,
        help="selfextend: neighbour window W (default: half the trained length).",
    ),
]


def grouped_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--group`` and ``--window`` (grouped attention); the command receives them as one
    ``rope_params`` dict holding the ones given."""

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> Any:
        given = {name: kwargs.pop(name) for name in ("group", "window")}
        return function(*args, rope_params={k: v for k, v in given.items() if v is not None}, **kwargs)

    for option in reversed(_GROUPED_OPTIONS):
        command = option(command)
    return command


def model_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """Add the model options (``grouped_options`` among them) to a command, which receives them as
    one ``model: ModelChoice``."""
    names = [field.name for field in fields(ModelChoice)]

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> Any:
        chosen = ModelChoice(**{name: kwargs.pop(name) for name in names})
        return function(*args, model=chosen, **kwargs)

    command = grouped_options(command)
    for option in reversed(_MODEL_OPTIONS):
        command = option(command)
    return command

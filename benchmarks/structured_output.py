"""Schema-constrained replies of the tiny model on every backend: how many parse and validate, and what
constraining costs (docs/backends.md has the table).

For each backend (transformers + xgrammar, llama.cpp + its GBNF grammar, llama-cpp-python's server with a
``response_format``) the same question is asked ``--runs`` times at temperature 1 with seeds 0..N-1,
once under a JSON schema and once unconstrained with the same token budget. Columns: replies that parse
and validate against the schema, and seconds per generated token with and without the constraint (the
ratio is the constraint's cost on that runtime; the unconstrained run is the runtime's own generation).

Usage: python benchmarks/structured_output.py [--runs 50] [--backends transformers,llama.cpp,server]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import jsonschema
from pydantic import BaseModel, Field

from zhllama.backends import LlamaCppBackend, OpenAICompatibleBackend, TransformersBackend
from zhllama.core.sampling import Sampling

ASK = [{"role": "user", "content": "介绍一位书中的人物，用 JSON 回答。"}]


class Character(BaseModel):
    """A character of a novel (the schema tests/backends/test_structured_output.py uses)."""

    name: str = Field(description="姓名")
    age: int
    home: str | None = None
    traits: list[str] = Field(max_length=2)


def measure(backend, runs: int, max_tokens: int) -> dict[str, float]:
    schema = Character.model_json_schema()
    sampling = Sampling(temperature=1.0, max_new_tokens=max_tokens)
    valid, constrained, free = 0, [0.0, 0], [0.0, 0]
    for seed in range(runs):
        started = time.perf_counter()
        completion = backend.complete(ASK, sampling=sampling, seed=seed, json_schema=schema)
        constrained[0] += time.perf_counter() - started
        constrained[1] += completion.completion_tokens
        try:
            jsonschema.validate(json.loads(completion.text), schema)
            valid += 1
        except (ValueError, jsonschema.ValidationError) as exc:
            print(f"  seed {seed}: {exc}: {completion.text!r}")
        started = time.perf_counter()
        completion = backend.complete(ASK, sampling=sampling, seed=seed)
        free[0] += time.perf_counter() - started
        free[1] += completion.completion_tokens
    return {
        "valid": valid,
        "constrained": 1000 * constrained[0] / max(1, constrained[1]),
        "free": 1000 * free[0] / max(1, free[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--assets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "assets"
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--backends", default="transformers,llama.cpp,server")
    args = parser.parse_args()
    model_dir = args.assets / "models" / "tiny-zh-llama"
    wanted = args.backends.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        gguf = None
        if {"llama.cpp", "server"} & set(wanted):
            from zhllama.checkpoints.gguf import export_gguf

            gguf = export_gguf(model_dir, Path(tmp) / "tiny.f32.gguf")
        if "transformers" in wanted:
            rows.append(
                (
                    "transformers + xgrammar",
                    measure(TransformersBackend.from_pretrained(model_dir), args.runs, args.max_tokens),
                )
            )
        if "llama.cpp" in wanted:
            backend = LlamaCppBackend.from_gguf(gguf, n_threads=2)
            rows.append(("llama.cpp + GBNF", measure(backend, args.runs, args.max_tokens)))
        if "server" in wanted:
            from zhllama.backends.llama_cpp_server import start_server

            with start_server(gguf, args=["--n_threads", "2", "--verbose", "False"]) as server:
                backend = OpenAICompatibleBackend(
                    server.base_url,
                    args.assets / "tokenizers" / "chinese-llama-2",
                    prompt_format="chat",
                    context_window=256,
                    schema_style="llama-cpp-python",
                )
                rows.append(
                    ("llama-cpp-python server, response_format", measure(backend, args.runs, args.max_tokens))
                )
    print(
        "\n| backend | valid replies | ms/token constrained | ms/token free | ratio |\n|---|---|---|---|---|"
    )
    for name, row in rows:
        ratio = row["constrained"] / row["free"]
        print(
            f"| {name} | {row['valid']}/{args.runs} | {row['constrained']:.1f} | {row['free']:.1f} "
            f"| {ratio:.2f} |"
        )


if __name__ == "__main__":
    main()

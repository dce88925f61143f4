"""`zhllama tokenizer ...`: check/fix a folder's tokenizer, compare vocabularies, merge them.

Thin: each command parses options, calls a library function in ``zhllama.core.tokenizer`` and
prints. Heavy libraries are imported inside the commands so that ``import zhllama.cli`` stays light.
"""

import json
from pathlib import Path

import click

from zhllama.cli.command import Group


def _read_lines(files: tuple[str, ...], limit: int) -> list[str]:
    lines: list[str] = []
    for file in files:
        for line in Path(file).read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                lines.append(line)
    if limit and len(lines) > limit:
        step = len(lines) / limit  # spread the sample over the whole text, deterministically
        lines = [lines[int(i * step)] for i in range(limit)]
    return lines


@click.group(cls=Group, name="tokenizer")
def group() -> None:
    """Work with the family's tokenizers."""


@group.command(name="check")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option(
    "--data",
    "data",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Text file(s) to sample lines from (your own text is the best sample).",
)
@click.option("--lines", "n_lines", default=2000, show_default=True, help="Lines to sample from --data.")
@click.option(
    "--fix", is_flag=True, help="Rewrite the folder's tokenizer config so runtimes load the exact one."
)
@click.option("--trust-remote-code", is_flag=True, help="Load as a runtime started with --trust-remote-code.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
def check(
    model_dir: str, data: tuple[str, ...], n_lines: int, fix: bool, trust_remote_code: bool, as_json: bool
) -> None:
    """Compare what AutoTokenizer gives runtimes for MODEL_DIR with SentencePiece's ids."""
    from zhllama.core.tokenizer.runtime_check import check_folder, fix_folder

    lines = _read_lines(data, n_lines) if data else None
    before = check_folder(model_dir, lines, trust_remote_code=trust_remote_code)
    fixed = after = None
    if fix:
        fixed = fix_folder(model_dir, lines)
        after = check_folder(model_dir, lines, trust_remote_code=trust_remote_code)
    if as_json:
        out = {"check": before.to_dict(), "sample": "data" if data else "builtin"}
        if fixed is not None:
            out["fix"] = {"written": fixed.written, "backups": fixed.backups, "after": after.to_dict()}
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        _print_check(before, "builtin sample" if not data else f"{before.parity.lines} lines of --data")
        if not data:
            click.echo("note: pass --data with your own text for a more telling check")
        if fixed is not None:
            if fixed.changed:
                for path in fixed.written:
                    click.echo(f"wrote {path}")
                for path in fixed.backups:
                    click.echo(f"backup {path}")
            else:
                click.echo("already fixed: nothing written")
            click.echo("after --fix:")
            _print_check(after, "same sample")
    final = after if after is not None else before
    if not final.ok:
        raise SystemExit(1)


def _print_check(result, sample: str) -> None:
    p = result.parity
    click.echo(
        f"{result.folder}: AutoTokenizer gives {result.tokenizer_class} (fast={result.is_fast}, "
        f"BOS={result.adds_bos}, EOS={result.adds_eos})"
    )
    click.echo(
        f"ids vs sentencepiece: {p.mismatched}/{p.lines} lines differ ({p.mismatch_rate:.1%}) on {sample}"
    )
    for m in p.examples[:3]:
        click.echo(
            f"  {m.line[:40]!r}\n    sentencepiece: {' '.join(m.sentencepiece[:16])}\n"
            f"    runtime:       {' '.join(m.candidate[:16])}"
        )
    d = result.decoding
    click.echo(f"decode vs sentencepiece: {d.mismatched}/{d.lines} lines differ ({d.mismatch_rate:.1%})")
    for m in d.examples[:2]:
        click.echo(f"  sentencepiece: {m.sentencepiece[:40]!r}\n  runtime:       {m.candidate[:40]!r}")
    if not result.decodes_exactly and result.tokenizer_class == "SentencePieceBackend":
        click.echo(
            "  transformers' SentencePieceBackend shows byte-fallback pieces as text (transformers#47473);\n"
            "  exact in vLLM with zhllama installed (its plugin fixes it) and in webui with zhllama's\n"
            "  extension; in your own code call zhllama.patching.install_exact_decoding() first"
        )
    click.echo(
        "OK: the ids are SentencePiece's"
        if result.ok
        else "NOT OK: run `zhllama tokenizer check --fix MODEL_DIR`"
    )


@group.command(name="stats")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--tokenizer",
    "tokenizers",
    multiple=True,
    required=True,
    help="A model folder or tokenizer.model file; repeat to compare.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(files: tuple[str, ...], tokenizers: tuple[str, ...], as_json: bool) -> None:
    """Chars per token, tokens per 1,000 chars and byte-fallback share of each tokenizer on FILES."""
    from zhllama.core.tokenizer.stats import tokenizer_stats

    results = [tokenizer_stats(t, files) for t in tokenizers]
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=2))
        return
    click.echo(
        f"{'tokenizer':<50} {'vocab':>7} {'tokens':>11} {'chars/token':>11} {'tok/1k chars':>12} "
        f"{'byte fallback':>13}"
    )
    for r in results:
        click.echo(
            f"{r.tokenizer[-50:]:<50} {r.vocab_size:>7} {r.tokens:>11} {r.chars_per_token:>11.3f} "
            f"{r.tokens_per_1000_chars:>12.1f} {r.byte_fallback_share:>13.2%}"
        )


@group.command(name="merge")
@click.argument("base")
@click.argument("extra")
@click.argument("out")
def merge(base: str, extra: str, out: str) -> None:
    """Append EXTRA's pieces missing from the BPE model BASE (score 0) and write OUT."""
    from zhllama.core.tokenizer.merge import merge_models

    r = merge_models(base, extra, out)
    click.echo(
        f"{r.output}: {r.total} pieces ({r.base_pieces} from base + {r.added} of {r.extra_pieces} from extra)"
    )

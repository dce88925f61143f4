"""`zhllama privategpt ...`: write a privateGPT settings profile, or run privateGPT with zhllama installed."""

import click

from zhllama.cli.command import Group
from zhllama.cli.options import grouped_options


@click.group(cls=Group, name="privategpt")
def group() -> None:
    """privateGPT with Chinese-Alpaca-2 (see docs/privategpt.md)."""


@group.command(name="profile")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="The privateGPT checkout (or a PGPT_SETTINGS_FOLDER, with --privategpt-version).",
)
@click.option(
    "--mode", type=click.Choice(["openailike", "llamacpp"]), default="openailike", show_default=True
)
@click.option("--model", help="Served model name (openailike) or GGUF path (llamacpp).")
@click.option(
    "--privategpt-version",
    "version",
    type=click.Choice(["0.6", "1"]),
    default=None,
    help="privateGPT release line (default: read from the --out checkout).",
)
@click.option(
    "--api-base", default="http://localhost:8000/v1", show_default=True, help="openailike server URL."
)
@click.option(
    "--context", "context_window", type=int, default=4096, show_default=True, help="Context window (tokens)."
)
@click.option("--rope-method", help="RoPE method for llamacpp (default: the plan's choice for --context).")
@grouped_options
@click.option("--template", default="alpaca-2", show_default=True)
@click.option(
    "--tokenizer",
    type=click.Path(file_okay=False),
    help="Local model folder privateGPT counts tokens with (1.x: with its chat template, see docs); "
    "without it 1.x downloads tiktoken's encoding on first start.",
)
def profile_command(
    out, mode, model, version, api_base, context_window, rope_method, rope_params, template, tokenizer
):
    """Write OUT/settings-zhllama.yaml; start privateGPT with PGPT_PROFILES=zhllama."""
    from zhllama.adapters.privategpt.profile import write_profile

    path = write_profile(
        out,
        mode,
        version=version,
        model=model,
        api_base=api_base,
        context_window=context_window,
        rope_method=rope_method,
        rope_params=rope_params,
        template=template,
        tokenizer=tokenizer,
    )
    click.echo(f"wrote {path}")
    click.echo(path.read_text(encoding="utf-8").splitlines()[0].removeprefix("# "))


@group.command(name="run", context_settings={"ignore_unknown_options": True})
@click.argument("privategpt_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run_command(privategpt_dir, args):
    """Run privateGPT 1.x from PRIVATEGPT_DIR with zhllama's llama.cpp mode registered (ARGS: serve)."""
    from zhllama.adapters.privategpt.launcher import run

    run(privategpt_dir, list(args))

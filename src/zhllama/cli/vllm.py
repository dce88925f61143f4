"""`zhllama vllm ...`: how to run the family's checkpoints in vLLM.

Thin: the work is in ``zhllama.adapters.vllm.serving``; vLLM itself need not be installed.
"""

import json
from pathlib import Path

import click

from zhllama.cli.command import Group
from zhllama.cli.options import grouped_options


@click.group(cls=Group, name="vllm")
def group() -> None:
    """Serve the family's checkpoints with vLLM (RoPE scaling, chat template, tokenizer)."""


@group.command(name="args")
@click.argument("model_dir", type=click.Path(file_okay=False))
@click.option(
    "--context", "-c", type=click.IntRange(min=1), required=True, help="max_model_len: the context to serve."
)
@click.option(
    "--rope-method",
    "--method",
    "-m",
    "method",
    default=None,
    help="RoPE scaling method (default: the checkpoint's own choice).",
)
@grouped_options
@click.option("--template", "template", default=None, help="Chat template (default: chosen for the model).")
@click.option("--tokenizer", default=None, help="Tokenizer folder (default: MODEL_DIR).")
@click.option("--tensor-parallel-size", "-tp", "tp", type=int, default=1, show_default=True)
@click.option(
    "--chat-template-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write the chat template for --chat-template (default: ./TEMPLATE.jinja).",
)
@click.option(
    "--draft",
    default=None,
    help="Speculative decoding: a draft model folder with the same vocabulary (e.g. Chinese-Alpaca-2-1.3B), "
    "or 'ngram' (prompt lookup).",
)
@click.option(
    "--speculative-tokens",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Tokens proposed per step with --draft.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the vllm.LLM kwargs and notes as JSON instead.")
def args_command(
    model_dir: str,
    context: int,
    method: str | None,
    rope_params: dict[str, int],
    template: str | None,
    tokenizer: str | None,
    tp: int,
    chat_template_file: str | None,
    draft: str | None,
    speculative_tokens: int,
    as_json: bool,
) -> None:
    """Write the chat template and print the `vllm serve` command for MODEL_DIR at CONTEXT tokens."""
    from zhllama.adapters.vllm.serving import serve_settings

    settings = serve_settings(
        model_dir,
        context,
        method=method,
        params=rope_params,
        template=template,
        tokenizer=tokenizer,
        tensor_parallel_size=tp,
        draft=draft,
        speculative_tokens=speculative_tokens,
    )
    path = settings.write_chat_template(Path(chat_template_file or f"{settings.template}.jinja").resolve())
    if as_json:
        out = {
            "llm_kwargs": settings.llm_kwargs(path),
            "serve": settings.serve_args(path),
            "notes": settings.notes,
        }
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        click.echo(settings.serve_command(path))
    click.echo(f"# wrote the {settings.template} chat template to {path}", err=True)
    for note in settings.notes:
        click.secho(f"# note: {note}", fg="yellow", err=True)

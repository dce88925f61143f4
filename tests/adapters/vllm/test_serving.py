"""`zhllama vllm args` and ``serve_settings``: flags and kwargs that vLLM itself accepts."""

import json
import shlex

import pytest
from click.testing import CliRunner

from zhllama.adapters.vllm.serving import serve_settings
from zhllama.cli import main
from zhllama.core.templates import get_template
from zhllama.core.templates.exports import vllm_export
from zhllama.errors import ModelLoadError, RopeScalingError

CONTEXT = 1024


def engine_args(llm_kwargs: dict):
    """vLLM's EngineArgs from LLM kwargs (``chat_template`` is LLM's own, not an engine argument)."""
    from vllm.engine.arg_utils import EngineArgs

    return EngineArgs(**{key: value for key, value in llm_kwargs.items() if key != "chat_template"})


@pytest.mark.parametrize("method", ["auto", "dynamic_yarn", "yarn", "linear", "ntk"])
def test_vllm_accepts_each_plan_at_four_times_the_trained_context(served_model_dir, method, monkeypatch):
    monkeypatch.delenv("VLLM_ALLOW_LONG_MAX_MODEL_LEN", raising=False)
    settings = serve_settings(served_model_dir, CONTEXT, method=method)
    model_config = engine_args(settings.llm_kwargs()).create_model_config()

    assert model_config.max_model_len == CONTEXT
    rope = settings.hf_overrides["rope_parameters"]
    assert model_config.hf_config.rope_parameters["rope_type"] == rope["rope_type"]
    if rope["rope_type"].startswith("zhllama_"):  # the formula's threshold stays the trained length
        assert model_config.hf_config.max_position_embeddings == 256


def test_llm_kwargs_carry_the_template_tokenizer_and_upstream_sampling(served_model_dir):
    import inspect

    from vllm import LLM

    kwargs = serve_settings(served_model_dir, CONTEXT).llm_kwargs()
    model_config = engine_args(kwargs).create_model_config()

    assert set(kwargs) <= set(inspect.signature(LLM).parameters) | set(
        inspect.signature(type(engine_args(kwargs))).parameters
    )
    assert kwargs["chat_template"] == get_template("alpaca-2").chat_template_with_bos
    assert model_config.tokenizer == str(served_model_dir)
    assert model_config.get_diff_sampling_param() == {
        "temperature": 0.2,
        "top_k": 40,
        "top_p": 0.9,
        "repetition_penalty": 1.1,
        "max_tokens": 512,
    }


def test_the_printed_serve_command_parses_with_vllms_own_cli_to_the_same_engine(
    served_model_dir, tmp_path, monkeypatch
):
    from vllm.engine.arg_utils import EngineArgs
    from vllm.entrypoints.common.cli_args import make_arg_parser
    from vllm.platforms import current_platform
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    # the parser builds a default DeviceConfig, which needs a platform; a GPU-less machine has none
    monkeypatch.setattr(current_platform, "device_type", current_platform.device_type or "cpu")

    settings = serve_settings(served_model_dir, CONTEXT, tensor_parallel_size=2)
    template_file = settings.write_chat_template(tmp_path / "alpaca-2.jinja")
    argv = shlex.split(settings.serve_command(template_file))
    assert argv[:3] == ["vllm", "serve", str(served_model_dir)]

    args = make_arg_parser(FlexibleArgumentParser()).parse_args(argv[2:])
    args.model = args.model_tag
    from_cli = EngineArgs.from_cli_args(args)
    from_kwargs = engine_args(settings.llm_kwargs())
    for name in ("model", "tokenizer", "hf_overrides", "max_model_len", "override_generation_config"):
        assert getattr(from_cli, name) == getattr(from_kwargs, name), name
    assert from_cli.tensor_parallel_size == 2
    assert args.chat_template == str(template_file)
    assert template_file.read_text(encoding="utf-8") == settings.chat_template + "\n"


def test_cli_prints_the_command_and_writes_the_chat_template(served_model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["vllm", "args", str(served_model_dir), "--context", str(CONTEXT)])

    assert result.exit_code == 0, result.output
    command = shlex.split(result.stdout.strip().splitlines()[-1])
    overrides = json.loads(command[command.index("--hf-overrides") + 1])
    assert overrides["rope_parameters"]["rope_type"] == "zhllama_dynamic_yarn", "plan's choice at 4x"
    assert command[command.index("--max-model-len") + 1] == str(CONTEXT)
    assert command[command.index("--chat-template") + 1] == str(tmp_path / "alpaca-2.jinja")
    assert (tmp_path / "alpaca-2.jinja").read_text(encoding="utf-8") == vllm_export(get_template("alpaca-2"))
    assert "zhllama's vLLM plugin" in result.stderr


def test_cli_json_gives_the_llm_kwargs(served_model_dir, tmp_path):
    out = tmp_path / "t.jinja"
    args = [
        "vllm",
        "args",
        str(served_model_dir),
        "-c",
        "2048",
        "-m",
        "dynamic_yarn",
        "--chat-template-file",
        str(out),
    ]
    result = CliRunner().invoke(main, [*args, "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["llm_kwargs"]["max_model_len"] == 2048
    assert report["llm_kwargs"]["chat_template"] == str(out)
    assert report["llm_kwargs"]["hf_overrides"]["rope_parameters"]["rope_type"] == "zhllama_dynamic_yarn"
    assert any("beyond what 'dynamic_yarn' is known to reach" in note for note in report["notes"])


def test_a_folder_whose_tokenizer_vllm_would_load_wrongly_gets_a_note(tiny_model_dir, served_model_dir):
    unfixed = serve_settings(tiny_model_dir, CONTEXT).notes
    fixed = serve_settings(served_model_dir, CONTEXT).notes

    assert any("zhllama tokenizer check" in note and "--fix" in note for note in unfixed)
    assert not any("tokenizer" in note for note in fixed)


def test_what_vllm_cannot_serve_is_refused_with_the_reason(served_model_dir, tmp_path):
    with pytest.raises(RopeScalingError, match="below the checkpoint's trained length 256"):
        serve_settings(served_model_dir, 128, method="auto")
    with pytest.raises(RopeScalingError, match="unknown rope scaling method 'ntk-by-parts'"):
        serve_settings(served_model_dir, CONTEXT, method="ntk-by-parts")
    with pytest.raises(ModelLoadError, match=r"has no config\.json"):
        serve_settings(tmp_path, CONTEXT)
    with pytest.raises(ModelLoadError, match="tensor_parallel_size"):
        serve_settings(served_model_dir, CONTEXT, tensor_parallel_size=0)
    result = CliRunner().invoke(main, ["vllm", "args", str(tmp_path), "--context", "1024"])
    assert result.exit_code == 1
    assert "Error: " in result.output and "config.json" in result.output


@pytest.fixture(scope="module")
def draft_dir(served_model_dir, tmp_path_factory):
    from zhllama.checkpoints.draft import derive_draft

    return derive_draft(served_model_dir, tmp_path_factory.mktemp("draft") / "tiny-draft", layers=1)


@pytest.mark.parametrize("draft", ["ngram", "folder"])
def test_vllm_builds_its_speculative_config_from_ours(
    served_model_dir, draft_dir, draft, tmp_path, monkeypatch
):
    from vllm.config import ParallelConfig
    from vllm.engine.arg_utils import EngineArgs
    from vllm.entrypoints.common.cli_args import make_arg_parser
    from vllm.platforms import current_platform
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    monkeypatch.setattr(current_platform, "device_type", current_platform.device_type or "cpu")
    settings = serve_settings(
        served_model_dir,
        CONTEXT,
        draft=str(draft_dir) if draft == "folder" else "ngram",
        speculative_tokens=3,
    )
    engine = engine_args(settings.llm_kwargs())
    speculative = engine.create_speculative_config(engine.create_model_config(), ParallelConfig())
    assert speculative.num_speculative_tokens == 3
    if draft == "ngram":
        assert (speculative.method, speculative.prompt_lookup_min, speculative.prompt_lookup_max) == (
            "ngram",
            1,
            2,
        )
    else:
        assert (
            speculative.method == "draft_model"
            and speculative.draft_model_config.hf_config.num_hidden_layers == 1
        )
    argv = settings.serve_args(settings.write_chat_template(tmp_path / "t.jinja"))
    args = make_arg_parser(FlexibleArgumentParser()).parse_args(argv[2:])
    assert EngineArgs.from_cli_args(args).speculative_config == settings.speculative_config


def test_a_draft_of_another_vocabulary_is_refused(served_model_dir, draft_dir, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    config = json.loads((draft_dir / "config.json").read_text())
    (foreign / "config.json").write_text(json.dumps({**config, "vocab_size": 32000}))
    with pytest.raises(ModelLoadError, match="vocabulary of 32000 tokens, the model 55296"):
        serve_settings(served_model_dir, CONTEXT, draft=foreign)
    result = CliRunner().invoke(
        main, ["vllm", "args", str(served_model_dir), "-c", "1024", "--draft", str(tmp_path)]
    )
    assert result.exit_code == 1 and "Error: --draft (a draft model folder, or 'ngram')" in result.output

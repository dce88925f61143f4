"""The attack suite's one helper: run a command in-process and require a clean failure."""

import pytest
from click.testing import CliRunner

from zhllama.cli import main


@pytest.fixture
def refuses():
    """``refuses(*args, says=..., status=1)``: the command fails with ``status``, prints ``Error:``
    (or click's usage error) naming ``says``, and raises nothing past the command line."""

    def check(*args, says: str = "", status: int = 1, env: dict | None = None):
        result = CliRunner().invoke(main, [str(a) for a in args], env=env)
        assert isinstance(result.exception, SystemExit), f"a traceback: {result.exception!r}\n{result.output}"
        assert result.exit_code == status, result.output
        assert "Error" in result.output and "Traceback" not in result.output, result.output
        assert says in result.output, result.output
        return result.output

    return check

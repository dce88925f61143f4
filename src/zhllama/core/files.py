"""Writing into folders users own (model folders, exports): atomically, keeping a backup."""

import os
import tempfile
from pathlib import Path

BACKUP_SUFFIX = ".bak"


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Replace ``path`` with ``data`` (text as UTF-8): readers see the old file or the new, never half."""
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def free_backup_path(path: str | os.PathLike) -> Path:
    """``NAME.bak``, or ``NAME.bak2``, ``NAME.bak3``... : the first that does not exist yet."""
    path = Path(path)
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    n = 2
    while backup.exists():
        backup = path.with_name(f"{path.name}{BACKUP_SUFFIX}{n}")
        n += 1
    return backup


def read_json_object(path: str | os.PathLike, error: type[Exception], fix: str = "fix or restore it") -> dict:
    """The JSON object stored in ``path``.

    Raises ``error`` with a message that names the file, what is wrong with it and ``fix``, when
    the file is missing, not UTF-8, not JSON, or holds something other than an object.
    """
    import json

    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path} does not exist: {fix}") from None
    except IsADirectoryError:
        raise error(f"{path} is a folder, not a JSON file: {fix}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text ({exc.reason}): {fix}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path} is not valid JSON ({exc}): {fix}") from None
    except OSError as exc:
        raise error(f"cannot read {path} ({exc.strerror or exc}): {fix}") from None
    if not isinstance(value, dict):
        raise error(f"{path} holds a JSON {type(value).__name__}, not an object: {fix}")
    return value

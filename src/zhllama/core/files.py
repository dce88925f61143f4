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

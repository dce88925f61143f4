"""Install the extension and the instruction template into a text-generation-webui checkout.

``install(webui_dir)`` writes ``user_data/extensions/zhllama/script.py`` (the shim) and
``user_data/instruction-templates/Chinese-Alpaca-2.yaml`` (``webui_export`` of the alpaca-2
template); ``uninstall`` removes what ``install`` wrote. Both are idempotent, refuse a folder that
is not a webui checkout, and never write outside it (a ``user_data`` symlinked elsewhere is
refused). Each file starts with a marker line holding a checksum of the rest: a file without the
marker is someone else's and is never overwritten or removed; a file with the marker whose text no
longer matches its checksum was edited, and is kept as ``NAME.bak`` before it is replaced or removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from zhllama.adapters.webui.shim import MARKER, REQUIREMENT_TOKEN, SCRIPT
from zhllama.core.files import free_backup_path, write_atomic
from zhllama.errors import ZhllamaError

EXTENSION_NAME = "zhllama"
TEMPLATE_FILENAME = "Chinese-Alpaca-2.yaml"
CHECKOUT_FILES = ("server.py", "modules/extensions.py", "modules/shared.py", "modules/chat.py")
NOTES = {
    "script": "written by `zhllama webui install`; `zhllama webui install --uninstall` removes it.",
    "template": "written by `zhllama webui install`",
}


class WebuiInstallError(ZhllamaError):
    """The folder is not a webui checkout, or installing would touch files that are not ours."""


@dataclass
class InstallReport:
    """Each file touched and what happened to it: written, unchanged, replaced, removed, absent."""

    webui_dir: str
    actions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(action in ("written", "replaced", "removed") for _, action in self.actions)


def _checksum(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def stamped(body: str, note: str) -> str:
    """``body`` under the marker line, which carries the checksum that tells an edited copy."""
    return f"{MARKER} sha256={_checksum(body)}: {note}\n{body}"


def edited(text: str) -> bool:
    """True when a file with the marker line no longer holds the text its checksum was made for."""
    first, _, body = text.partition("\n")
    return not first.startswith(f"{MARKER} sha256={_checksum(body)}:")


def requirement() -> str:
    """What ``pip install`` needs to get this zhllama with ``[webui]``: its source checkout's path.

    zhllama is not on PyPI, so a bare ``zhllama[webui]`` would not install; when this zhllama does
    not run from a checkout the message names the placeholder ``/path/to/zhllama``.
    """
    root = Path(__file__).resolve().parents[4]
    if (root / "pyproject.toml").is_file() and (root / "src" / "zhllama").is_dir():
        return f"{root}[webui]"
    return "/path/to/zhllama[webui]"


def script_text() -> str:
    """The extension's ``script.py``: the marker line, then the shim naming where to install zhllama from."""
    return stamped(SCRIPT.replace(REQUIREMENT_TOKEN, requirement()), NOTES["script"])


def template_text() -> str:
    """The instruction template file: the marker line, then ``webui_export`` of alpaca-2."""
    from zhllama.core.templates import get_template
    from zhllama.core.templates.exports import webui_export

    return stamped(webui_export(get_template("alpaca-2")), NOTES["template"])


def check_checkout(webui_dir: str | os.PathLike) -> Path:
    """The resolved checkout folder; raises ``WebuiInstallError`` when it is not one."""
    root = Path(webui_dir).expanduser()
    missing = [name for name in CHECKOUT_FILES if not (root / name).is_file()]
    if missing:
        raise WebuiInstallError(
            f"{str(root)!r} is not a text-generation-webui checkout (missing {', '.join(missing)}): "
            "pass the folder that holds server.py and modules/"
        )
    return root.resolve()


def targets(root: Path) -> dict[str, Path]:
    """Where each file goes inside ``root``."""
    user_data = root / "user_data"
    return {
        "script": user_data / "extensions" / EXTENSION_NAME / "script.py",
        "template": user_data / "instruction-templates" / TEMPLATE_FILENAME,
    }


def _inside(root: Path, path: Path) -> Path:
    """``path`` if it resolves inside ``root`` (following any symlink), else refuse."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise WebuiInstallError(
            f"{path} resolves to {resolved}, outside the webui checkout {root}: zhllama writes only "
            "inside the checkout; install by hand or point WEBUI_DIR at the real checkout"
        )
    return path


def _ours(path: Path) -> bool:
    return path.read_text(encoding="utf-8", errors="replace").startswith(MARKER)


def _keep_edited(path: Path, report: InstallReport) -> None:
    """Copy a file the user changed (no marker, or a marker whose checksum fails) to ``NAME.bak``."""
    backup = free_backup_path(path)
    shutil.copy2(path, backup)
    report.actions.append((str(backup), "written (your edited copy)"))


def install(webui_dir: str | os.PathLike) -> InstallReport:
    """Write the shim and the template (unchanged files are left alone); return what happened."""
    root = check_checkout(webui_dir)
    report = InstallReport(str(root))
    paths = targets(root)
    wanted = {"script": script_text(), "template": template_text()}
    for kind, path in paths.items():
        _inside(root, path)
        if path.exists() and path.read_text(encoding="utf-8", errors="replace") == wanted[kind]:
            report.actions.append((str(path), "unchanged"))
            continue
        action = "written"
        if path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            if not _ours(path) and kind == "script":
                raise WebuiInstallError(
                    f"{path} exists and was not written by zhllama: another extension is named "
                    f"{EXTENSION_NAME!r}; move it away, then install again"
                )
            if not _ours(path) or edited(text):
                _keep_edited(path, report)
            action = "replaced"
        _inside(root, path.parent).mkdir(parents=True, exist_ok=True)
        _inside(root, path)
        write_atomic(path, wanted[kind])
        report.actions.append((str(path), action))
    return report


def uninstall(webui_dir: str | os.PathLike) -> InstallReport:
    """Remove the files ``install`` wrote and the extension folder when nothing else is in it.

    A file at one of those paths without the marker line is someone else's and is kept; one the
    user edited is removed after a copy is kept as ``NAME.bak``.
    """
    root = check_checkout(webui_dir)
    report = InstallReport(str(root))
    for kind, path in targets(root).items():
        _inside(root, path)
        if not path.exists():
            report.actions.append((str(path), "absent"))
            continue
        if not _ours(path):
            report.actions.append((str(path), "kept (not written by zhllama)"))
            continue
        if edited(path.read_text(encoding="utf-8", errors="replace")):
            _keep_edited(path, report)
        path.unlink()
        report.actions.append((str(path), "removed"))
        if kind == "script":
            folder = path.parent
            shutil.rmtree(folder / "__pycache__", ignore_errors=True)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    return report

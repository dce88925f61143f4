"""`zhllama doctor`: versions, plugins (and their problems), adapters, kernels and assets."""

import importlib.metadata
import importlib.util
import json
import platform
import sys
from typing import Any

import click

from zhllama import __version__, locations, plugins
from zhllama.cli.command import Command
from zhllama.core.kernels.catalog import KERNELS
from zhllama.core.rope_scaling.registry import METHODS
from zhllama.core.templates.builtin import BUILTIN_TEMPLATES as TEMPLATES

LIBRARIES = ("torch", "transformers", "tokenizers", "sentencepiece", "pluggy", "jinja2")


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _accelerators() -> dict[str, Any]:
    found: dict[str, Any] = {"triton": _version("triton"), "cuda": False, "cuda_devices": []}
    if importlib.util.find_spec("torch") is None:
        return found
    import torch

    if torch.cuda.is_available():
        found["cuda"] = True
        found["cuda_devices"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return found


def _kernel_dispatch() -> dict[str, Any]:
    from zhllama.core.kernels import dispatch

    try:
        return {"mode": dispatch.mode(), "choices": dispatch.table()}
    except Exception as exc:  # a bad ZHLLAMA_KERNELS value is reported, not raised, by doctor
        return {"mode": f"invalid: {exc}", "choices": {}}


def _assets() -> dict[str, Any]:
    root = locations.assets_dir()
    model = locations.default_model_dir()
    return {
        "assets": str(root) if root else None,
        "assets_folders": sorted(p.name for p in root.iterdir() if p.is_dir()) if root else [],
        "default_model": str(model) if model else None,
    }


def _registered(hook_name: str, builtins: dict[str, Any]) -> dict[str, str]:
    """Each name of a registry and the plugin it comes from (``zhllama`` for a built-in)."""
    return {name: entry.plugin for name, entry in plugins.merged(hook_name, builtins).items()}


def report() -> dict[str, Any]:
    """Everything ``zhllama doctor`` prints, as JSON-ready data."""
    return {
        "zhllama": __version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "libraries": {name: _version(name) for name in LIBRARIES},
        "plugins": plugins.plugin_names(),
        "templates": _registered("register_templates", TEMPLATES),
        "rope_methods": _registered("register_rope_methods", METHODS),
        "kernels": {name: plugins.BUILTIN for name in KERNELS},
        "kernel_dispatch": _kernel_dispatch(),
        "accelerators": _accelerators(),
        "adapters": [entry.value.status() for entry in plugins.merged("register_adapters", {}).values()],
        "plugin_problems": plugins.problems(),
        **_assets(),
    }


def format_report(data: dict[str, Any]) -> str:
    """A human-readable rendering of ``report()``."""
    lines = [f"zhllama {data['zhllama']} on Python {data['python']}", "", "libraries:"]
    lines += [f"  {name:<14} {version or 'not installed'}" for name, version in data["libraries"].items()]
    lines += ["", "plugins loaded:"] + [f"  {name}" for name in data["plugins"]]
    for key in ("templates", "rope_methods", "kernels"):
        entries = data[key]
        lines += ["", f"{key.replace('_', ' ')}:"]
        lines += [f"  {name:<16} from {plugin}" for name, plugin in entries.items()] or [
            "  (none registered)"
        ]
    dispatch = data.get("kernel_dispatch", {"mode": "?", "choices": {}})
    lines += ["", f"kernel dispatch (ZHLLAMA_KERNELS={dispatch['mode']}):"]
    for where, ops in dispatch["choices"].items():
        lines.append(f"  {where:<16} " + ", ".join(f"{op}={backend}" for op, backend in ops.items()))
    acc = data["accelerators"]
    devices = ", ".join(acc["cuda_devices"]) or "none"
    lines += [
        "",
        f"accelerators: CUDA {'yes' if acc['cuda'] else 'no'} ({devices}); triton {acc['triton'] or 'no'}",
    ]
    lines += ["", "adapters:"]
    for adapter in data["adapters"]:
        state = (
            f"available ({adapter['version']})"
            if adapter["importable"]
            else f"not installed: {adapter['install']}"
        )
        lines.append(f"  {adapter['name']:<14} {adapter['ecosystem']:<17} {state}")
        lines.append(f"  {'':<14} injects: {adapter['injects']}")
    if data["plugin_problems"]:
        lines += ["", "plugin problems (each plugin was skipped):"]
        lines += [f"  {problem}" for problem in data["plugin_problems"]]
    lines += [
        "",
        f"assets: {data['assets'] or 'not found (set ZHLLAMA_ASSETS)'}",
        f"default model: {data['default_model'] or 'none (pass --model or set ZHLLAMA_MODEL)'}",
    ]
    return "\n".join(lines)


@click.command(cls=Command, name="doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(as_json: bool) -> None:
    """Report versions, plugins, adapters, kernels and assets."""
    data = report()
    click.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else format_report(data))

"""The built-in RoPE scaling methods, registered through the plugin hook like any third-party method.

Imported when plugins load, so it must not import torch (the methods import it when computing).
"""

from collections.abc import Callable

from zhllama.core.rope_scaling import auto, dynamic, dynamic_yarn, linear, ntk, yarn
from zhllama.hookspecs import hookimpl

BUILTIN_METHODS = (linear.METHOD, ntk.METHOD, auto.METHOD, dynamic.METHOD, yarn.METHOD, dynamic_yarn.METHOD)


@hookimpl
def register_rope_methods(register: Callable[..., None]) -> None:
    for method in BUILTIN_METHODS:
        register(method.name, method)

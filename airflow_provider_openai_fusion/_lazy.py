"""Lazy re-exports for the ``operators``, ``sensors`` and ``triggers`` packages."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """
    Build a module ``__getattr__`` that imports a class's module only when the class is first asked for.

    :param package: the package's ``__name__``.
    :param modules: class name -> submodule name.
    """

    def __getattr__(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{modules[name]}"), name)

    return __getattr__

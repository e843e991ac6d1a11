"""Lazy exports for package ``__init__`` modules (the pattern of scientific-python's
``lazy_loader``): names resolve on first access, so importing a package stays cheap."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, lazy: dict[str, str], public: Iterable[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build ``(__getattr__, __dir__)`` for ``package``.

    Args:
        package: the package's ``__name__``.
        lazy: exported name -> relative module holding it (e.g. ``".quantized"``), or ``""``
            for a subpackage/submodule of the same name.
        public: the package's ``__all__`` (what ``dir()`` lists).
    """
    names = list(public)

    def __getattr__(name: str) -> Any:
        if name in lazy:
            where = lazy[name]
            if not where:
                return importlib.import_module(f"{package}.{name}")
            return getattr(importlib.import_module(where, package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__

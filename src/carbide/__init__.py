"""carbide: ten ML-systems techniques as one PyTorch toolkit.

Importing ``carbide`` is cheap on purpose: it holds the version and loads each subpackage
(``carbide.datasets``, ``carbide.results``, ...) only when first touched, so ``import carbide``
never imports torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_SUBPACKAGES = ("cli", "datasets", "exceptions", "results", "systems")

__all__ = ["__version__", *_SUBPACKAGES]

if TYPE_CHECKING:  # pragma: no cover
    from . import cli, datasets, exceptions, results, systems  # noqa: F401


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'carbide' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

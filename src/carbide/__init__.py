"""carbide: ten ML-systems techniques as one PyTorch toolkit.

Importing ``carbide`` is cheap on purpose: it holds the version and loads each subpackage
(``carbide.datasets``, ``carbide.results``, ...) only when first touched, so ``import carbide``
never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

_SUBPACKAGES = ("cli", "compression", "datasets", "exceptions", "federated", "forecasting",
                "insitu", "nas", "results", "serverless", "systems", "testing")

if TYPE_CHECKING:  # pragma: no cover
    from . import (  # noqa: F401
        cli,
        compression,
        datasets,
        exceptions,
        federated,
        forecasting,
        insitu,
        nas,
        results,
        serverless,
        systems,
        testing,
    )

__all__ = ["__version__", *_SUBPACKAGES]

__getattr__, __dir__ = lazy_exports(__name__, dict.fromkeys(_SUBPACKAGES, ""), __all__)

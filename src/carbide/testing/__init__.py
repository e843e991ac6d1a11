"""Test helpers shipped with carbide: dataset fixture writers and a CLI runner.

- ``write_*_fixture(root, ...)`` write tiny, deterministic, fake copies of each dataset in the
  layout its :mod:`carbide.datasets` loader reads (for tests of loaders, CLIs, reproductions,
  and for trying a command without the real data);
- :func:`run_cli` runs the ``carbide`` console script in a subprocess, as a user does.

Nothing in the library imports this package. Names load lazily.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_LAZY = {
    "run_cli": "._cli",
    "write_cifar10_fixture": "._datasets",
    "write_cifar10_python_fixture": "._datasets",
    "write_fashion_mnist_fixture": "._datasets",
    "write_femnist_fixture": "._datasets",
    "write_nasbench101_fixture": "._datasets",
    "write_nasbench201_fixture": "._datasets",
    "write_openfoam_fixture": "._datasets",
    "write_planetoid_fixture": "._datasets",
    "write_pv_fixture": "._datasets",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

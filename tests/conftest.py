"""Shared fixtures: the real data root (skipped when absent) and an isolated cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

_DEFAULT_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _shared_root() -> Path | None:
    env = os.environ.get("CARBIDE_DATA")
    root = Path(env) if env else _DEFAULT_SHARED
    return root if root.is_dir() else None


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session writes caches to a temporary folder, never to ~/.cache."""
    cache = os.environ.get("CARBIDE_TEST_CACHE")
    if cache is None:
        cache = str(tmp_path_factory.getbasetemp() / "carbide-cache")
        os.environ["CARBIDE_TEST_CACHE"] = cache
    monkeypatch.setenv("CARBIDE_CACHE", cache)


@pytest.fixture
def shared_root() -> Path:
    """The shared data root (``$CARBIDE_DATA`` or ``../shared/data``); skips when absent."""
    root = _shared_root()
    if root is None:
        pytest.skip("shared datasets not found: set CARBIDE_DATA to the shared data folder")
    return root


def mask_module(monkeypatch, name: str) -> None:
    """Make ``import name`` (and any submodule) fail as if the package were not installed."""
    import sys

    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        monkeypatch.setitem(sys.modules, loaded, None)
    monkeypatch.setitem(sys.modules, name, None)


def require_dataset(root: Path, *rel: str) -> None:
    """Skip the calling test when one of the given files is not under ``root``."""
    for r in rel:
        if not (root / r).exists():
            pytest.skip(f"{root / r} is absent: this test needs the shared dataset")


@pytest.fixture
def carbide_cli():
    """Run the console script as a user does (a subprocess):
    ``carbide_cli("svdtrain", "train", "--out", tmp_path, data=shared_root)`` returns the
    finished process (``returncode``, ``stdout``, ``stderr``); see
    :func:`carbide.testing.run_cli`."""
    from carbide.testing import run_cli

    return run_cli

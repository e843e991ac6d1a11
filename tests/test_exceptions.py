from __future__ import annotations

import pytest

from carbide._imports import EXTRAS, check_extras, optional_import
from carbide.exceptions import (
    CarbideError,
    ChecksumMismatchError,
    DatasetCorruptError,
    DatasetNotFoundError,
    DownloadError,
    InvalidConfigError,
    MissingDependencyError,
)
from tests.conftest import mask_module


@pytest.mark.parametrize(
    ("exc", "builtin"),
    [
        (InvalidConfigError, ValueError),
        (MissingDependencyError, ImportError),
        (DatasetNotFoundError, FileNotFoundError),
        (DatasetCorruptError, DatasetNotFoundError),
        (DownloadError, OSError),
        (ChecksumMismatchError, DownloadError),
    ],
)
def test_errors_are_carbide_errors_and_builtins(exc, builtin):
    assert issubclass(exc, CarbideError)
    assert issubclass(exc, builtin)


def test_optional_import_returns_the_module():
    json_module = optional_import("json", "test")
    assert json_module.dumps([1]) == "[1]"


def test_masked_optional_dependency_names_the_install_command(monkeypatch):
    import torch_geometric.data  # noqa: F401  (loaded first: masking must still hide it)

    mask_module(monkeypatch, "torch_geometric")
    with pytest.raises(MissingDependencyError) as info:
        optional_import("torch_geometric.data", "graph", purpose="load_planetoid")
    assert 'pip install "carbide[graph]"' in str(info.value)
    assert "load_planetoid" in str(info.value)


def test_check_extras_reports_a_masked_extra(monkeypatch):
    mask_module(monkeypatch, "pyspark")
    state = check_extras({"spark": EXTRAS["spark"], "stdlib": ("json",)})
    assert state["stdlib"] is None
    assert state["spark"] is not None and state["spark"].startswith("pyspark:")

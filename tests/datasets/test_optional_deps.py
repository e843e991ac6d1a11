"""A loader whose extra is missing fails at the point of use with the install command."""

from __future__ import annotations

import pytest

from carbide.datasets import load_planetoid, load_pv
from carbide.exceptions import MissingDependencyError
from carbide.testing import write_planetoid_fixture, write_pv_fixture
from tests.conftest import mask_module


def test_planetoid_without_torch_geometric_names_the_graph_extra(monkeypatch, tmp_path):
    write_planetoid_fixture(tmp_path, "cora")
    mask_module(monkeypatch, "torch_geometric")
    with pytest.raises(MissingDependencyError, match=r'pip install "carbide\[graph\]"'):
        load_planetoid("cora", tmp_path, verify=False)


def test_pv_without_pandas_names_the_forecast_extra(monkeypatch, tmp_path):
    write_pv_fixture(tmp_path)
    mask_module(monkeypatch, "pandas")
    with pytest.raises(MissingDependencyError, match=r'pip install "carbide\[forecast\]"'):
        load_pv("system50", root=tmp_path, verify=False)


def test_deepctr_peer_import_prints_nothing_and_asks_no_server():
    # deepctr-torch's own __init__ prints to stdout when its PyPI version check fails (offline)
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("deepctr_torch") is None:
        pytest.skip("deepctr-torch (extra nasrec-peers) is not installed")
    code = ("from carbide._imports import optional_import\n"
            "m = optional_import('deepctr_torch.models', 'nasrec-peers')\n"
            "import threading, time\n"
            "time.sleep(0.5)\n"
            "print(sorted(t.name for t in threading.enumerate() if t is not threading.main_thread()"
            "))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"

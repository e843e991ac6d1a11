"""Tests of carbide.datasets.planetoid on tiny synthetic fixtures and on the real files."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from carbide.datasets.planetoid import PLANETOID_NAMES, load_planetoid
from carbide.exceptions import (
    DatasetCorruptError,
    DatasetNotFoundError,
    InvalidConfigError,
    MissingDependencyError,
)
from carbide.testing import write_planetoid_fixture
from tests.conftest import require_dataset

torch = pytest.importorskip("torch")
pyg_utils = pytest.importorskip("torch_geometric.utils")

SUFFIXES = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")


def _check_graph_contract(data, num_classes: int) -> None:
    """What every loaded Planetoid graph promises, fixture or real."""
    n = data.num_nodes
    assert data.x.dtype == torch.float32 and data.x.dim() == 2 and data.x.size(0) == n
    assert data.y.dtype == torch.int64 and data.y.shape == (n,)
    assert int(data.y.min()) >= 0 and int(data.y.max()) == num_classes - 1
    ei = data.edge_index
    assert ei.dtype == torch.int64 and ei.dim() == 2 and ei.size(0) == 2
    assert int(ei.min()) >= 0 and int(ei.max()) < n
    assert pyg_utils.is_undirected(ei, num_nodes=n)
    assert not bool((ei[0] == ei[1]).any()), "self-loops must be removed"
    assert torch.unique(ei, dim=1).size(1) == ei.size(1), "duplicate edges must be coalesced"
    for mask in (data.train_mask, data.val_mask, data.test_mask):
        assert mask.dtype == torch.bool and mask.shape == (n,)
    assert not bool((data.train_mask & data.val_mask).any())
    assert not bool((data.train_mask & data.test_mask).any())
    assert not bool((data.val_mask & data.test_mask).any())


@pytest.fixture
def cora_root(tmp_path):
    write_planetoid_fixture(tmp_path, "cora")
    return tmp_path


def test_fixture_cora_loads_with_expected_split(cora_root):
    data = load_planetoid("cora", cora_root, verify=False)
    # defaults: 3 classes x 2 train, 500 val (hard-coded by the standard split), 6 unlabelled,
    # 12 test
    assert data.num_nodes == 6 + 500 + 6 + 12
    assert data.x.shape == (524, 12)
    _check_graph_contract(data, num_classes=3)
    assert data.train_mask.nonzero().view(-1).tolist() == list(range(6))
    assert data.val_mask.nonzero().view(-1).tolist() == list(range(6, 506))
    assert data.test_mask.nonzero().view(-1).tolist() == list(range(512, 524))


def test_fixture_labels_and_features_stay_aligned(cora_root):
    """The writer gives node i label i % 3 and sets feature[label]; the shuffled test.index
    must be undone by the reader, so any misalignment shows here."""
    data = load_planetoid("cora", cora_root, verify=False)
    expected = torch.arange(data.num_nodes) % 3
    assert torch.equal(data.y, expected)
    assert bool((data.x[torch.arange(data.num_nodes), expected] == 1).all())


def test_fixture_citeseer_isolated_test_ids(tmp_path):
    write_planetoid_fixture(tmp_path, "citeseer")
    data = load_planetoid("citeseer", tmp_path, verify=False)
    assert data.num_nodes == 526
    _check_graph_contract(data, num_classes=3)
    assert int(data.test_mask.sum()) == 12
    # the two ids missing from test.index get zero features, label 0, no mask, no edges
    empty = (data.x.sum(dim=1) == 0).nonzero().view(-1)
    assert empty.numel() == 2
    assert bool((data.y[empty] == 0).all())
    in_any = data.train_mask | data.val_mask | data.test_mask
    assert not bool(in_any[empty].any())
    assert not bool(torch.isin(data.edge_index, empty).any())


@pytest.mark.parametrize("name", ["CORA", "Cora", "cora"])
def test_name_is_case_insensitive(cora_root, name):
    assert load_planetoid(name, cora_root, verify=False).num_nodes == 524


@pytest.mark.parametrize("name", ["pubmed", "", "cora ", 3])
def test_unknown_name_lists_choices(tmp_path, name):
    with pytest.raises(InvalidConfigError, match="cora, citeseer") as info:
        load_planetoid(name, tmp_path)
    assert isinstance(info.value, ValueError)
    assert repr(name) in str(info.value)


def test_missing_dataset_names_path(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_planetoid("citeseer", tmp_path)
    assert str(tmp_path / "planetoid" / "CiteSeer" / "raw") in str(info.value)
    assert not isinstance(info.value, DatasetCorruptError)


def test_missing_single_file_names_it(cora_root):
    missing = cora_root / "planetoid" / "Cora" / "raw" / "ind.cora.graph"
    missing.unlink()
    with pytest.raises(DatasetNotFoundError, match="ind.cora.graph") as info:
        load_planetoid("cora", cora_root, verify=False)
    assert str(missing) in str(info.value)


def test_verify_rejects_fixture_checksums(cora_root):
    with pytest.raises(DatasetCorruptError, match="checksum"):
        load_planetoid("cora", cora_root)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:64])


def _garbage(path):
    path.write_bytes(b"this is not a pickle")


def _wrong_type(path):
    path.write_bytes(pickle.dumps({"not": "a matrix"}, protocol=2))


@pytest.mark.parametrize(
    ("suffix", "damage"),
    [
        ("allx", _truncate),
        ("x", _garbage),
        ("ty", _wrong_type),
        ("graph", _garbage),
        ("y", lambda p: p.write_bytes(b"")),
        ("test.index", lambda p: p.write_text("12\nnot-a-number\n")),
    ],
)
def test_corrupt_file_is_named(cora_root, suffix, damage):
    path = cora_root / "planetoid" / "Cora" / "raw" / f"ind.cora.{suffix}"
    damage(path)
    with pytest.raises(DatasetCorruptError) as info:
        load_planetoid("cora", cora_root, verify=False)
    message = str(info.value)
    assert str(path) in message
    assert "fetch them again" in message
    assert info.value.__cause__ is not None


def test_inconsistent_files_are_reported(cora_root):
    raw = cora_root / "planetoid" / "Cora" / "raw"
    (raw / "ind.cora.test.index").write_text("99999\n")
    with pytest.raises(DatasetCorruptError, match="do not fit together") as info:
        load_planetoid("cora", cora_root, verify=False)
    assert str(raw) in str(info.value)


def test_too_few_nodes_for_the_standard_split(cora_root):
    """A graph with fewer than 500 nodes after the training nodes cannot be split."""
    import numpy as np
    import scipy.sparse as sp

    raw = cora_root / "planetoid" / "Cora" / "raw"
    with open(raw / "ind.cora.allx", "wb") as fh:
        pickle.dump(sp.csr_matrix(np.ones((20, 12), dtype=np.float32)), fh, protocol=2)
    with open(raw / "ind.cora.ally", "wb") as fh:
        pickle.dump(np.eye(3, dtype=np.int32)[np.arange(20) % 3], fh, protocol=2)
    (raw / "ind.cora.test.index").write_text("".join(f"{i}\n" for i in range(20, 32)))
    with pytest.raises(DatasetCorruptError, match="500"):
        load_planetoid("cora", cora_root, verify=False)


def test_edges_beyond_the_nodes_are_rejected(cora_root):
    from collections import defaultdict

    raw = cora_root / "planetoid" / "Cora" / "raw"
    graph = defaultdict(list, {0: [1, 10_000], 1: [0], 10_000: [0]})
    with open(raw / "ind.cora.graph", "wb") as fh:
        pickle.dump(graph, fh, protocol=2)
    with pytest.raises(DatasetCorruptError, match="10000") as info:
        load_planetoid("cora", cora_root, verify=False)
    assert "ind.cora.graph" in str(info.value)


def test_fixture_is_deterministic(tmp_path):
    a = write_planetoid_fixture(tmp_path / "a", "citeseer", seed=3)
    b = write_planetoid_fixture(tmp_path / "b", "citeseer", seed=3)
    c = write_planetoid_fixture(tmp_path / "c", "citeseer", seed=4)
    for suffix in SUFFIXES:
        name = f"ind.citeseer.{suffix}"
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "ind.citeseer.graph").read_bytes() != (c / "ind.citeseer.graph").read_bytes()


def test_fixture_writes_original_formats(cora_root):
    import numpy as np
    import scipy.sparse as sp

    raw = cora_root / "planetoid" / "Cora" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(f"ind.cora.{s}" for s in SUFFIXES)
    for suffix in ("x", "tx", "allx", "y", "ty", "ally", "graph"):
        with open(raw / f"ind.cora.{suffix}", "rb") as fh:
            assert fh.read(2) == b"\x80\x02"  # pickle protocol 2, like the originals
            fh.seek(0)
            obj = pickle.load(fh, encoding="latin1")
        if suffix in ("x", "tx", "allx"):
            assert sp.issparse(obj) and obj.format == "csr"
        elif suffix == "graph":
            assert isinstance(obj, dict) and all(isinstance(v, list) for v in obj.values())
        else:
            assert isinstance(obj, np.ndarray) and set(np.unique(obj.sum(axis=1))) == {1}


def test_fixture_writer_rejects_bad_arguments(tmp_path):
    with pytest.raises(InvalidConfigError):
        write_planetoid_fixture(tmp_path, "cora", num_features=2, num_classes=3)
    with pytest.raises(InvalidConfigError):
        write_planetoid_fixture(tmp_path, "pubmed")


def test_missing_torch_geometric_names_the_extra(cora_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_geometric", None)
    monkeypatch.setitem(sys.modules, "torch_geometric.io", None)
    with pytest.raises(MissingDependencyError, match=r'torch_geometric.*carbide\[graph\]'):
        load_planetoid("cora", cora_root, verify=False)


def test_missing_scipy_is_named_not_reported_as_corruption(cora_root, monkeypatch):
    import torch_geometric.io  # noqa: F401  (imported before scipy is masked)

    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(MissingDependencyError, match="scipy"):
        load_planetoid("cora", cora_root, verify=False)


def test_module_import_is_light():
    code = (
        "import sys, carbide.datasets.planetoid; "
        "heavy = {'torch', 'torch_geometric', 'numpy', 'scipy'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


REAL = {
    # name: (nodes, features, classes, directed edges, train, val, test)
    "cora": (2708, 1433, 7, 10556, 140, 500, 1000),
    "citeseer": (3327, 3703, 6, 9104, 120, 500, 1000),
}


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_planetoid(shared_root, name):
    require_dataset(shared_root, f"planetoid/{PLANETOID_NAMES[name]}/raw/ind.{name}.graph")
    nodes, feats, classes, edges, n_train, n_val, n_test = REAL[name]
    data = load_planetoid(name, shared_root)
    assert data.x.shape == (nodes, feats)
    assert data.edge_index.shape == (2, edges)
    _check_graph_contract(data, num_classes=classes)
    assert int(data.train_mask.sum()) == n_train
    assert int(data.val_mask.sum()) == n_val
    assert int(data.test_mask.sum()) == n_test
    # the public split: 20 training nodes per class
    assert torch.bincount(data.y[data.train_mask], minlength=classes).tolist() == [20] * classes
    assert set(data.x.unique().tolist()) <= {0.0, 1.0}

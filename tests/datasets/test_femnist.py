"""LEAF / FEMNIST loaders: synthetic shards for the format, the shared copy for real facts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from carbide.datasets.femnist import FEMNIST_NUM_CLASSES, load_femnist, load_leaf
from carbide.exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from carbide.testing import write_femnist_fixture
from tests.conftest import require_dataset

torch = pytest.importorskip("torch")


def _shard(users: dict[str, tuple[int, list[int]]], width: int = 784) -> dict:
    """A LEAF document: user -> (num_samples claimed, labels); x rows are all white."""
    return {
        "users": list(users),
        "num_samples": [n for n, _ in users.values()],
        "user_data": {
            u: {"x": [[1.0] * width for _ in ys], "y": ys} for u, (_, ys) in users.items()
        },
    }


def _write(path: Path, doc: object, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(doc).encode()
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)
    return path


def test_fixture_reads_like_femnist(tmp_path):
    write_femnist_fixture(tmp_path, writers_per_shard=2, train_samples=3, test_samples=2)
    data = load_femnist(tmp_path, verify=False)

    assert len(data.clients) == 40  # 20 shards x 2 writers
    assert data.num_classes == FEMNIST_NUM_CLASSES
    # natural shard order 0, 1, ..., 10, 16, ...: writers were numbered in that order
    assert data.clients[:4] == ["f0000_00", "f0001_00", "f0002_00", "f0003_00"]
    assert data.clients == sorted(data.clients)
    assert set(data.num_samples("train").values()) == {3}
    assert set(data.num_samples("test").values()) == {2}
    x, y = data.train["f0005_00"]
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and y.tolist() == [5, 6, 7]
    # the first pixel carries label / 255: samples and labels stayed aligned
    assert torch.allclose(x[:, 0, 0, 0] * 255, y.float())
    assert float(x.min()) >= 0.0 and float(x.max()) == 1.0
    assert float((x == 1.0).float().mean()) > 0.5  # white background kept, not inverted
    assert len(data.meta["train_files"]) == 20


def test_fixture_fails_checksum(tmp_path):
    write_femnist_fixture(tmp_path)
    with pytest.raises(DatasetCorruptError, match="checksum"):
        load_femnist(tmp_path)


def test_missing_shard_names_path(tmp_path):
    folder = write_femnist_fixture(tmp_path)
    gone = folder / "test" / "all_data_7_niid_05_keep_0_test_9.json.gz"
    gone.unlink()
    with pytest.raises(DatasetNotFoundError, match="all_data_7_niid_05_keep_0_test_9"):
        load_femnist(tmp_path, verify=False)


def test_load_leaf_reads_plain_and_gzip_in_natural_order(tmp_path):
    folder = write_femnist_fixture(tmp_path, shards=[10, 2, 1], compress="mixed")
    names = sorted(p.name for p in (folder / "train").iterdir())
    assert any(n.endswith(".json") for n in names) and any(n.endswith(".json.gz") for n in names)
    data = load_leaf(folder / "train", folder / "test")
    # writers were numbered in the order of the shards argument: 10 -> f0000, 2 -> f0001, ...
    assert data.clients == ["f0002_00", "f0001_00", "f0000_00"]
    assert data.num_samples("test") == {"f0002_00": 1, "f0001_00": 1, "f0000_00": 1}
    assert data.num_classes == 5  # largest label (writer 2, sample 2: 2 + 2) + 1, inferred


def test_load_leaf_without_test_split(tmp_path):
    folder = write_femnist_fixture(tmp_path, shards=[0, 1], train_samples=2)
    data = load_leaf(folder / "train", num_classes=62)
    assert list(data.test) == data.clients
    x, y = data.test["f0000_00"]
    assert x.shape == (0, 1, 28, 28) and y.shape == (0,) and y.dtype == torch.int64
    assert data.num_classes == 62


def test_load_leaf_sample_shape_is_checked(tmp_path):
    folder = write_femnist_fixture(tmp_path, shards=[0])
    data = load_leaf(folder / "train", sample_shape=(784,))
    assert data.train["f0000_00"][0].shape == (3, 784)
    with pytest.raises(DatasetCorruptError, match="784 values, expected 196"):
        load_leaf(folder / "train", sample_shape=(1, 14, 14))
    with pytest.raises(InvalidConfigError, match="sample_shape"):
        load_leaf(folder / "train", sample_shape=(0, 28))
    with pytest.raises(InvalidConfigError, match="num_classes"):
        load_leaf(folder / "train", num_classes="62")


def test_num_classes_too_small(tmp_path):
    folder = write_femnist_fixture(tmp_path, shards=[0], train_samples=5)
    with pytest.raises(DatasetCorruptError, match="label 4 found, but num_classes is 3"):
        load_leaf(folder / "train", num_classes=3)


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nowhere"):
        load_leaf(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a shard")
    with pytest.raises(DatasetNotFoundError, match="no LEAF"):
        load_leaf(tmp_path / "empty")


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"users": ["a"], "user_data": {}}, "missing 'num_samples'"),
        ({"users": ["a"], "num_samples": [1, 2], "user_data": {}}, "same length"),
        (_shard({"a": (3, [0, 1])}), "num_samples 3 but 2 x rows"),
        ({"users": ["a"], "num_samples": [1], "user_data": {}}, "no 'x'/'y' entry"),
        (
            {"users": ["a"], "num_samples": [2],
             "user_data": {"a": {"x": [[1.0] * 784, [1.0] * 783], "y": [0, 1]}}},
            "same length",
        ),
        (
            {"users": ["a"], "num_samples": [1],
             "user_data": {"a": {"x": [[1.0] * 784], "y": [0.5]}}},
            "non-negative integers",
        ),
    ],
)
def test_bad_shard_content(tmp_path, doc, message):
    path = _write(tmp_path / "train" / "s.json", doc)
    with pytest.raises(DatasetCorruptError, match=message) as info:
        load_leaf(tmp_path / "train")
    assert str(path) in str(info.value)


def test_bad_gzip_and_json(tmp_path):
    bad_gz = tmp_path / "gz" / "s.json.gz"
    bad_gz.parent.mkdir()
    bad_gz.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(DatasetCorruptError, match="cannot read LEAF JSON") as info:
        load_leaf(bad_gz.parent)
    assert str(bad_gz) in str(info.value) and info.value.__cause__ is not None

    bad_json = tmp_path / "js" / "s.json"
    bad_json.parent.mkdir()
    bad_json.write_text('{"users": [')
    with pytest.raises(DatasetCorruptError, match="s.json") as info:
        load_leaf(bad_json.parent)
    assert isinstance(info.value.__cause__, ValueError)


def test_writer_alignment_between_splits(tmp_path):
    _write(tmp_path / "train" / "a.json", _shard({"w1": (1, [0]), "w2": (1, [1])}))
    _write(tmp_path / "test" / "a.json", _shard({"w1": (1, [0])}))
    with pytest.raises(DatasetCorruptError, match="'w2' is in the train split"):
        load_leaf(tmp_path / "train", tmp_path / "test")

    _write(tmp_path / "test" / "a.json", _shard({"w1": (1, [0]), "w2": (1, [1]), "w3": (1, [2])}))
    with pytest.raises(DatasetCorruptError, match="'w3' is in the test split"):
        load_leaf(tmp_path / "train", tmp_path / "test")


def test_test_split_follows_train_order(tmp_path):
    _write(tmp_path / "train" / "a.json", _shard({"w2": (1, [0]), "w1": (2, [1, 2])}))
    _write(tmp_path / "test" / "a.json.gz", _shard({"w1": (1, [3]), "w2": (0, [])}), gz=True)
    data = load_leaf(tmp_path / "train", tmp_path / "test")
    assert data.clients == ["w2", "w1"] and list(data.test) == ["w2", "w1"]
    assert data.test["w1"][1].tolist() == [3]
    assert data.test["w2"][0].shape == (0, 1, 28, 28)
    assert data.num_classes == 4


def test_duplicate_writer_is_an_error(tmp_path):
    _write(tmp_path / "train" / "a.json", _shard({"w1": (1, [0])}))
    _write(tmp_path / "train" / "b.json", _shard({"w1": (1, [0])}))
    with pytest.raises(DatasetCorruptError, match="'w1' appears twice"):
        load_leaf(tmp_path / "train")


@pytest.mark.data
def test_real_femnist(shared_root):
    require_dataset(shared_root, "femnist/train", "femnist/test")
    data = load_femnist(shared_root)
    assert len(data.clients) == 105
    assert sum(data.num_samples("train").values()) == 14_708
    assert sum(data.num_samples("test").values()) == 1_685
    assert data.num_classes == 62
    labels = torch.cat([y for _, y in data.train.values()] + [y for _, y in data.test.values()])
    assert labels.dtype == torch.int64
    assert int(labels.min()) == 0 and int(labels.max()) == 61
    assert labels.unique().numel() == 62
    x, _ = data.train[data.clients[0]]
    assert x.dtype == torch.float32 and x.shape[1:] == (1, 28, 28)
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert float(x.mean()) > 0.5  # mostly white background (1.0), as LEAF stores it
    assert all(n > 0 for n in data.num_samples("test").values())

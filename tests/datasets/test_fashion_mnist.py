"""Tests of carbide.datasets.fashion_mnist: the idx reader and the loader."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest

from carbide.datasets.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    _idx_bytes,
    load_fashion_mnist,
    read_idx,
)
from carbide.exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from carbide.testing import write_fashion_mnist_fixture
from tests.conftest import require_dataset

torch = pytest.importorskip("torch")

FILES = [
    f"{prefix}-{kind}-ubyte.gz"
    for prefix in ("train", "t10k")
    for kind in ("images-idx3", "labels-idx1")
]


# ---------------------------------------------------------------- read_idx


def test_read_idx_hand_made_int32(tmp_path):
    """A header written by hand (not by the module's own encoder): big-endian int32 2x3."""
    values = [1, -2, 3, 70000, -70000, 0]
    raw = bytes([0, 0, 0x0C, 2]) + struct.pack(">II", 2, 3) + struct.pack(">6i", *values)
    path = tmp_path / "a.idx"
    path.write_bytes(raw)
    out = read_idx(path)
    assert out.shape == (2, 3)
    assert out.dtype == np.dtype("int32") and out.dtype.isnative
    assert out.ravel().tolist() == values
    assert out.flags.writeable


@pytest.mark.parametrize(
    "array",
    [
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-3, 5, 127, -128], dtype=np.int8),
        np.array([[1, -300], [30000, -30000]], dtype=np.int16),
        np.linspace(-1, 1, 7, dtype=np.float32),
        np.array([[np.pi, -np.e]], dtype=np.float64),
        np.zeros((0, 28, 28), dtype=np.uint8),
    ],
    ids=["uint8-3d", "int8", "int16", "float32", "float64", "empty"],
)
@pytest.mark.parametrize("compressed", [True, False])
def test_read_idx_round_trip(tmp_path, array, compressed):
    raw = _idx_bytes(array)
    # the name says nothing: compression is detected from the content
    path = tmp_path / "data.bin"
    path.write_bytes(gzip.compress(raw) if compressed else raw)
    out = read_idx(path)
    assert out.dtype == array.dtype.newbyteorder("=")
    assert out.shape == array.shape
    np.testing.assert_array_equal(out, array)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nothing.idx"):
        read_idx(tmp_path / "nothing.idx")


_GOOD = _idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\x1f\x8b\x08\x00garbage-after-a-gzip-magic", "decompress"),
        (gzip.compress(_GOOD)[:-12], "decompress"),  # truncated gzip stream
        (b"\x00\x00", "magic"),
        (b"", "magic"),
        (b"\x50\x4b\x03\x04" + _GOOD[4:], "magic"),  # a zip header, not idx
        (bytes([0, 0, 0x07, 2]) + _GOOD[4:], "magic"),  # unknown type code
        (bytes([0, 0, 0x08, 3]) + b"\x00\x00\x00\x03", "header"),  # 3 dims, 1 given
        (_GOOD[:-1], "data bytes"),  # short data
        (_GOOD + b"\x00", "data bytes"),  # trailing data
    ],
    ids=["bad-gzip", "truncated-gzip", "short-magic", "empty", "zip", "type-code",
         "short-header", "short-data", "long-data"],
)
def test_read_idx_rejects_damage(tmp_path, content, fragment):
    path = tmp_path / "bad-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(DatasetCorruptError, match=fragment) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "fetch it again" in str(info.value)


def test_read_idx_decompress_error_is_chained(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DatasetCorruptError) as info:
        read_idx(path)
    assert info.value.__cause__ is not None


# ---------------------------------------------------------------- loader on fixtures


@pytest.fixture
def fixture_root(tmp_path):
    write_fashion_mnist_fixture(tmp_path, num_train=23, num_test=11)
    return tmp_path


@pytest.mark.parametrize(("split", "n"), [("train", 23), ("test", 11)])
def test_fixture_loads(fixture_root, split, n):
    ds = load_fashion_mnist(split, fixture_root, verify=False)
    assert len(ds) == n
    assert ds.images.shape == (n, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
    assert ds.labels.tolist() == [i % 10 for i in range(n)]
    # the writer stores the label in the top-left pixel: images and labels stay aligned
    assert torch.equal(ds.images[:, 0, 0, 0].long(), ds.labels)
    assert ds.classes == FASHION_MNIST_CLASSES and len(ds.classes) == 10
    assert ds.float_images().max() <= 1.0


def test_splits_read_their_own_files(fixture_root):
    train = load_fashion_mnist("train", fixture_root, verify=False)
    test = load_fashion_mnist("test", fixture_root, verify=False)
    assert not torch.equal(train.images[:11], test.images)


def test_default_split_is_train(fixture_root):
    assert len(load_fashion_mnist(root=fixture_root, verify=False)) == 23


def test_root_from_environment(fixture_root, monkeypatch):
    monkeypatch.setenv("CARBIDE_DATA", str(fixture_root))
    assert len(load_fashion_mnist("test", verify=False)) == 11


@pytest.mark.parametrize("split", ["val", "t10k", "TRAIN", ""])
def test_bad_split(fixture_root, split):
    with pytest.raises(InvalidConfigError, match="train, test") as info:
        load_fashion_mnist(split, fixture_root, verify=False)
    assert repr(split) in str(info.value)


def test_missing_dataset_names_path(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist("train", tmp_path)
    assert str(tmp_path / "fashion-mnist") in str(info.value)


@pytest.mark.parametrize("name", FILES)
def test_missing_one_file(fixture_root, name):
    path = fixture_root / "fashion-mnist" / name
    path.unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_fashion_mnist("train", fixture_root, verify=False)
    assert str(path) in str(info.value)


def test_verify_rejects_fixture_checksums(fixture_root):
    with pytest.raises(DatasetCorruptError, match="checksum"):
        load_fashion_mnist("train", fixture_root)


def _write(root, name, array):
    (root / "fashion-mnist" / name).write_bytes(gzip.compress(_idx_bytes(array)))


def test_label_count_mismatch(fixture_root):
    _write(fixture_root, "train-labels-idx1-ubyte.gz", np.zeros(22, dtype=np.uint8))
    with pytest.raises(DatasetCorruptError, match=r"\(23,\)") as info:
        load_fashion_mnist("train", fixture_root, verify=False)
    assert "train-labels-idx1-ubyte.gz" in str(info.value)


def test_label_out_of_range(fixture_root):
    _write(fixture_root, "t10k-labels-idx1-ubyte.gz", np.full(11, 10, dtype=np.uint8))
    with pytest.raises(DatasetCorruptError, match="label 10"):
        load_fashion_mnist("test", fixture_root, verify=False)


@pytest.mark.parametrize(
    "array",
    [np.zeros((11, 28, 27), np.uint8), np.zeros((11, 784), np.uint8),
     np.zeros((11, 28, 28), np.float32)],
    ids=["27-wide", "flat", "float"],
)
def test_image_shape_or_dtype_mismatch(fixture_root, array):
    _write(fixture_root, "t10k-images-idx3-ubyte.gz", array)
    with pytest.raises(DatasetCorruptError, match="t10k-images-idx3-ubyte.gz"):
        load_fashion_mnist("test", fixture_root, verify=False)


def test_truncated_gzip_in_loader(fixture_root):
    path = fixture_root / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetCorruptError) as info:
        load_fashion_mnist("train", fixture_root, verify=False)
    assert str(path) in str(info.value)


def test_fixture_is_deterministic_and_leaves_root_alone(tmp_path):
    a = write_fashion_mnist_fixture(tmp_path / "a")
    b = write_fashion_mnist_fixture(tmp_path / "b")
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes()
    before = {p: p.stat().st_mtime_ns for p in a.iterdir()}
    load_fashion_mnist("train", tmp_path / "a", verify=False)
    assert {p: p.stat().st_mtime_ns for p in a.iterdir()} == before


def test_module_import_is_light():
    code = (
        "import sys, carbide.datasets.fashion_mnist; "
        "heavy = {'torch', 'numpy'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- real files


@pytest.mark.data
@pytest.mark.parametrize(("split", "n"), [("train", 60_000), ("test", 10_000)])
def test_real_fashion_mnist(shared_root, split, n):
    prefix = "train" if split == "train" else "t10k"
    require_dataset(shared_root, f"fashion-mnist/{prefix}-images-idx3-ubyte.gz")
    ds = load_fashion_mnist(split, shared_root)
    assert ds.images.shape == (n, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
    assert torch.bincount(ds.labels, minlength=10).tolist() == [n // 10] * 10
    assert int(ds.images.max()) == 255 and int(ds.images.min()) == 0
    # the background is black (0), as stored: most pixels of a clothing photo are background
    assert float((ds.images == 0).float().mean()) > 0.4

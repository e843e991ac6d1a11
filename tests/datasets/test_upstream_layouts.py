"""Loaders read the upstream formats that `carbide data download` installs: the official
CIFAR-10 python tarball and PyDMD's plain CSVs (the root's own layouts stay preferred)."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile

import numpy as np
import pytest

from carbide.datasets import dataset_files, load_cifar10, load_openfoam_buildings, verify_dataset
from carbide.datasets.cifar10 import CIFAR10_CLASSES
from carbide.exceptions import DatasetCorruptError
from carbide.testing import (
    write_cifar10_fixture,
    write_cifar10_python_fixture,
    write_openfoam_fixture,
)


def test_cifar10_python_tarball_is_read_exactly_in_label_order(tmp_path):
    write_cifar10_python_fixture(tmp_path, train_per_class=3, test_per_class=2)
    train = load_cifar10("train", tmp_path, verify=False, progress=False)
    assert train.images.shape == (30, 3, 32, 32) and train.images.dtype.is_floating_point is False
    assert train.labels.tolist() == [c for c in range(10) for _ in range(3)]
    assert train.classes == CIFAR10_CLASSES
    red = train.images[:, 0, 0, 0].tolist()
    green = train.images[:, 1, 0, 0].tolist()
    assert red == [20 * c + 10 for c in range(10) for _ in range(3)]  # exact: no JPEG loss
    assert green == [10 * n + 5 for _ in range(10) for n in range(3)]  # batch order kept
    assert (train.images[:, 2] == 128).all()
    test = load_cifar10("test", tmp_path, verify=False, progress=False)
    assert test.labels.tolist() == [c for c in range(10) for _ in range(2)]


def test_cifar10_python_tarball_is_checked_against_the_official_checksum(tmp_path):
    write_cifar10_python_fixture(tmp_path)
    [check] = verify_dataset("cifar10", tmp_path)  # the python layout is the one present
    assert check.path.name == "cifar-10-python.tar.gz" and check.status == "mismatch"
    assert check.expected == "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
    with pytest.raises(DatasetCorruptError, match="cifar-10-python.tar.gz"):
        load_cifar10("train", tmp_path, progress=False)


def test_the_jpeg_layout_wins_when_both_are_complete(tmp_path):
    write_cifar10_fixture(tmp_path)
    write_cifar10_python_fixture(tmp_path)
    assert sorted(dataset_files("cifar10", tmp_path, verify=False)) == [
        "cifar10/cifar10_test_jpg.tar.gz", "cifar10/cifar10_train_jpg.tar.gz"]


def test_a_pickle_asking_for_other_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    folder = tmp_path / "cifar10"
    folder.mkdir()
    with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tf:
        data = pickle.dumps({b"data": Evil(), b"labels": []}, protocol=2)
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(DatasetCorruptError, match=r"refusing to load __builtin__\.print"):
        load_cifar10("test", tmp_path, verify=False, progress=False)


def test_a_missing_batch_is_named(tmp_path):
    path = write_cifar10_python_fixture(tmp_path)
    with tarfile.open(path) as src:
        members = [(m, src.extractfile(m).read()) for m in src if m.name != "cifar-10-batches-py/"
                   "data_batch_3"]
    with tarfile.open(path, "w:gz") as dst:
        for m, data in members:
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(DatasetCorruptError, match="no member cifar-10-batches-py/data_batch_3"):
        load_cifar10("train", tmp_path, verify=False, progress=False)


def _gunzip_folder(src, dst) -> None:
    dst.mkdir(parents=True)
    for gz in sorted(src.glob("velocity*.csv.gz")):
        (dst / gz.name.removesuffix(".gz")).write_bytes(gzip.decompress(gz.read_bytes()))


def test_openfoam_plain_csvs_load_like_the_gzip_ones(tmp_path):
    folder = write_openfoam_fixture(tmp_path / "gz")
    _gunzip_folder(folder, tmp_path / "plain" / "openfoam-buildings")
    a = load_openfoam_buildings(tmp_path / "gz", verify=False)
    b = load_openfoam_buildings(tmp_path / "plain", verify=False)
    assert np.array_equal(a.times, b.times) and np.array_equal(a.values, b.values)
    assert all(f.endswith(".csv") for f in b.files) and len(b.files) == 20


def test_openfoam_plain_csvs_of_the_shared_copy_match_the_manifest(shared_root, tmp_path):
    _gunzip_folder(shared_root / "openfoam-buildings", tmp_path / "openfoam-buildings")
    assert [c.status for c in verify_dataset("openfoam-buildings", tmp_path)] == ["ok"] * 20
    plain = load_openfoam_buildings(tmp_path)
    ref = load_openfoam_buildings(shared_root)
    assert np.array_equal(plain.values, ref.values)

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from carbide.datasets import DATASETS, cache_dir, data_root, dataset_files, verify_dataset
from carbide.datasets._root import _manifest
from carbide.exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError


def test_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("CARBIDE_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("CARBIDE_DATA")
    assert data_root() == Path("~/.cache/carbide/data").expanduser()


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CARBIDE_CACHE", str(tmp_path / "c"))
    assert cache_dir("cifar10") == tmp_path / "c" / "cifar10"
    assert (tmp_path / "c" / "cifar10").is_dir()


def test_every_manifest_file_belongs_to_a_dataset():
    import fnmatch

    claimed = {rel for rel in _manifest() for d in DATASETS.values()
               if any(fnmatch.fnmatch(rel, p) for p in d.patterns + d.alt_patterns)}
    unclaimed = set(_manifest()) - claimed
    assert all(Path(rel).name.startswith(("LICENSE", "COPYRIGHT")) for rel in unclaimed)


def test_missing_dataset_names_path_and_source(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        dataset_files("cora", tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "planetoid/Cora/raw/ind.cora.allx") in msg
    assert "and 7 more" in msg and "kimiyoung/planetoid" in msg


def test_unknown_dataset_lists_choices():
    with pytest.raises(InvalidConfigError, match="choose one of: cora, citeseer"):
        dataset_files("mnist")


def _copy_dataset(name: str, src: Path, dst: Path) -> None:
    for rel in dataset_files(name, src, verify=False):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dst / rel)


def test_damaged_file_is_caught_by_its_checksum(shared_root, tmp_path):
    _copy_dataset("nasbench201", shared_root, tmp_path)
    dataset_files("nasbench201", tmp_path)  # an intact copy verifies
    pkl = tmp_path / "nasbench201" / "cifar10.pkl"
    data = bytearray(pkl.read_bytes())
    data[100] ^= 0xFF
    pkl.write_bytes(bytes(data))
    with pytest.raises(DatasetCorruptError, match=re.escape(str(pkl))):
        dataset_files("nasbench201", tmp_path)
    assert dataset_files("nasbench201", tmp_path, verify=False)["nasbench201/cifar10.pkl"] == pkl
    statuses = [c.status for c in verify_dataset("nasbench201", tmp_path)]
    assert statuses == ["mismatch"]


def test_the_shared_root_verifies_and_is_left_untouched(shared_root):
    before = sorted((p, p.stat().st_mtime_ns) for p in shared_root.rglob("*"))
    for name in DATASETS:
        assert all(c.status == "ok" for c in verify_dataset(name, shared_root)), name
    assert sorted((p, p.stat().st_mtime_ns) for p in shared_root.rglob("*")) == before

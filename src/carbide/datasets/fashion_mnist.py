"""Fashion-MNIST (Xiao et al., 2017) from the original idx files, and a general idx reader.

Source: Zalando Research, MIT (Expat), taken from Debian's ``dataset-fashion-mnist``: the four
files ``<root>/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from ._root import dataset_files, get_info

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ._types import ImageDataset

__all__ = ["FASHION_MNIST_CLASSES", "load_fashion_mnist", "read_idx",]

#: Class names, index = label.
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

_SPLITS = {"train": "train", "test": "t10k"}

# idx type code -> numpy dtype string (big-endian, as stored)
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
_REFETCH = "the file is damaged or not an idx file: fetch it again"


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an idx file (the MNIST format), gzip-compressed or plain.

    The header is two zero bytes, a type code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
    ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions, then each
    dimension as a big-endian uint32; the data follow in C order, big-endian. Compression is
    detected from the content, not the file name.

    Args:
        path: the file.

    Returns:
        A writable numpy array with the header's shape and dtype (native byte order).

    Raises:
        DatasetNotFoundError: ``path`` does not exist.
        DatasetCorruptError: bad gzip stream, wrong magic number, unknown type code, or a data
            length that does not match the header; the message names the file.
    """
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"idx file not found: {path}")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetCorruptError(f"cannot decompress {path} ({exc}); {_REFETCH}") from exc

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DatasetCorruptError(
            f"{path} does not start with an idx magic number (got {raw[:4].hex() or 'nothing'}, "
            f"expected 0000 + type code + ndim); {_REFETCH}"
        )
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    ndim = raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DatasetCorruptError(
            f"{path} is truncated inside its header ({len(raw)} bytes for {ndim} dims); {_REFETCH}"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:offset])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise DatasetCorruptError(
            f"{path} has {len(raw) - offset} data bytes but its header {shape} of "
            f"{dtype.name} needs {expected}; {_REFETCH}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=offset)
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as idx (the inverse of :func:`read_idx`, for fixtures)."""
    import numpy as np

    kind = array.dtype.str.lstrip("<>=|")
    if kind not in _IDX_CODES:
        raise InvalidConfigError(f"idx cannot store dtype {array.dtype}; use one of {_IDX_CODES}")
    header = bytes([0, 0, _IDX_CODES[kind], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    big = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">"))
    return header + big.tobytes()


def load_fashion_mnist(
    split: str = "train", root: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> ImageDataset:
    """Load one split of Fashion-MNIST.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images, the ``t10k`` files).
        root: data root (``root`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``); the files
            are read from ``<root>/fashion-mnist/``.
        verify: check the files' SHA-256 sums against the packaged manifest first.

    Returns:
        An :class:`~carbide.datasets.ImageDataset` with ``images`` uint8 ``(N, 1, 28, 28)``
        (0 = black background, as stored), ``labels`` int64 ``(N,)`` in ``0..9`` (balanced:
        6,000 per class in train, 1,000 in test) and ``classes`` =
        :data:`FASHION_MNIST_CLASSES`.

    Raises:
        InvalidConfigError: ``split`` is not ``"train"`` or ``"test"``.
        DatasetNotFoundError: a file is missing (the message names it and the source).
        DatasetCorruptError: a file fails its checksum or cannot be parsed.
    """
    if split not in _SPLITS:
        raise InvalidConfigError(
            f"unknown Fashion-MNIST split {split!r}; choose one of: {', '.join(_SPLITS)}"
        )
    import torch

    from ._types import ImageDataset

    files = dataset_files("fashion-mnist", root, verify=verify)
    prefix = _SPLITS[split]
    image_path = files[f"fashion-mnist/{prefix}-images-idx3-ubyte.gz"]
    label_path = files[f"fashion-mnist/{prefix}-labels-idx1-ubyte.gz"]
    images = read_idx(image_path)
    labels = read_idx(label_path)

    source = get_info("fashion-mnist").source
    if images.dtype.name != "uint8" or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetCorruptError(
            f"{image_path} holds {images.dtype.name} {images.shape}, expected uint8 (N, 28, 28); "
            f"fetch it again from {source}"
        )
    if labels.dtype.name != "uint8" or labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DatasetCorruptError(
            f"{label_path} holds {labels.dtype.name} {labels.shape}, expected uint8 "
            f"({images.shape[0]},) to match {image_path.name}; fetch it again from {source}"
        )
    if labels.size and int(labels.max()) >= len(FASHION_MNIST_CLASSES):
        raise DatasetCorruptError(
            f"{label_path} has label {int(labels.max())}, expected 0..9; fetch it again from "
            f"{source}"
        )
    return ImageDataset(
        images=torch.from_numpy(images).unsqueeze(1),
        labels=torch.from_numpy(labels.astype("int64")),
        classes=FASHION_MNIST_CLASSES,
    )

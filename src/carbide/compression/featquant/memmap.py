"""fp32 node features read from a memory-mapped ``.npy`` file: BiFeat's baseline when the
feature matrix is larger than the memory it may use.

Paper: Ma et al., arXiv 2207.14696. BiFeat's case for compression is that a graph's fp32
features often do not fit in the memory the trainer has (host RAM beside the graph, or a GPU),
so without compression they are read from slower storage per mini-batch; compressed codes fit
and are gathered from RAM. :class:`MemmapFeatures` is that uncompressed side: the same
``.shape`` / ``.gather(index, device, out)`` contract as :class:`QuantizedFeatures` and
:class:`DenseFeatures`, the rows read through a read-only shared mapping of the file, so the
operating system's page cache holds what was read recently.

A memory budget without a cgroup: with ``budget_bytes`` set, after every gather the store
asks the kernel how much of the file is in the page cache (:meth:`resident_bytes`,
``mincore``, so read-ahead counts too) and, when it is more than the budget, evicts the whole
file from the page cache (:meth:`evict`: ``madvise(MADV_DONTNEED)`` on the mapping, then
``posix_fadvise(POSIX_FADV_DONTNEED)`` on the file), so the next batches read from disk
again. That is a flush-when-full cache: worse than the kernel's LRU at the same size by
about the hits an LRU would keep (a share of about ``budget / file size`` of the reads), and
within one gather the page cache may hold more than the budget. Under a real memory limit (a
cgroup, or a smaller machine) the kernel does the evicting and no budget is needed here.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
from typing import TYPE_CHECKING

from ...exceptions import CarbideError, InvalidConfigError
from ._index import check_index

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["MemmapFeatures"]

_PAGE = mmap.PAGESIZE


class MemmapFeatures:
    """A float32 ``(N, D)`` matrix served row by row from a memory-mapped ``.npy`` file.

    Args:
        path: a ``.npy`` file of a C-ordered float32 ``(N, D)`` array (``np.save`` writes one;
            ``np.lib.format.open_memmap`` writes one in chunks, for matrices larger than RAM).
        budget_bytes: optional memory budget (bytes, >= one page): after a gather, when more
            than this much of the file is in the page cache, the file is evicted from it (see
            the module docstring). Default ``None``: no budget, the kernel decides.
        random_access: advise the kernel that reads are random (``MADV_RANDOM``: no
            read-around, each faulted 4 KiB page is one read). Default ``False``, the kernel's
            read-around: faster whenever a batch touches a good share of the file's pages
            (measured here, 1M x 128 rows on disk, 200k random rows from a cold cache: 4.1 s
            with read-around, 36 s with ``MADV_RANDOM``); ``True`` can pay when batches touch
            few pages of a very large file.

    Attributes:
        path: the file.
        shape: ``(N, D)``.
        evictions: how many times the budget evicted the file.

    Raises:
        InvalidConfigError: the file is not a 2-D C-ordered float32 ``.npy`` array, or the
            budget is below one page.
        FileNotFoundError: no file at ``path``.
    """

    method = "none"

    def __init__(self, path: str | os.PathLike[str], *, budget_bytes: int | None = None,
                 random_access: bool = False) -> None:
        import numpy as np

        self.path = os.fspath(path)
        if budget_bytes is not None and (isinstance(budget_bytes, bool)
                                         or not isinstance(budget_bytes, int)
                                         or budget_bytes < _PAGE):
            raise InvalidConfigError(
                f"budget_bytes must be an integer >= {_PAGE} (one page) or None, got "
                f"{budget_bytes!r}"
            )
        self.budget_bytes = budget_bytes
        with open(self.path, "rb") as fh:
            try:
                version = np.lib.format.read_magic(fh)
                header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                          else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = header(fh)
            except ValueError as exc:
                raise InvalidConfigError(f"{self.path} is not a .npy file ({exc})") from exc
            offset = fh.tell()
        if len(shape) != 2 or fortran or dtype != np.dtype("<f4"):
            raise InvalidConfigError(
                f"{self.path} holds a {'Fortran' if fortran else 'C'}-ordered {dtype} array of "
                f"shape {shape}; MemmapFeatures reads C-ordered float32 (N, D): save it with "
                f"np.save(path, np.ascontiguousarray(x, dtype=np.float32))"
            )
        self._fd = os.open(self.path, os.O_RDONLY)
        n, d = int(shape[0]), int(shape[1])
        self._offset = offset
        self._nbytes_file = offset + n * d * 4
        # an empty mapping is an error in mmap; a matrix with no rows has nothing to map
        self._mm = (mmap.mmap(self._fd, self._nbytes_file, access=mmap.ACCESS_READ)
                    if n * d else None)
        if self._mm is not None and random_access and hasattr(mmap, "MADV_RANDOM"):
            self._mm.madvise(mmap.MADV_RANDOM)
        self._array = (np.frombuffer(self._mm, dtype=np.float32, count=n * d,
                                     offset=offset).reshape(n, d)
                       if self._mm is not None else np.empty((n, d), np.float32))
        self._shape = (n, d)
        self.evictions = 0

    def __repr__(self) -> str:
        budget = "none" if self.budget_bytes is None else f"{self.budget_bytes / 2**20:.0f} MiB"
        return f"MemmapFeatures({self.path!r}, shape={self.shape}, budget={budget})"

    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    @property
    def nbytes(self) -> int:
        """Bytes of the matrix on disk (``N * D * 4``); what it occupies in RAM is at most
        ``budget_bytes`` of page cache, see :meth:`resident_bytes`."""
        return self._shape[0] * self._shape[1] * 4

    @property
    def compression_ratio(self) -> float:
        return 1.0

    def gather(
        self,
        index: torch.Tensor,
        device: str | torch.device | None = None,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Rows ``index`` read from the file: float32 ``(len(index), D)`` on ``device``
        (default CPU), or written into ``out`` (float32, that shape, on ``device``).

        Raises:
            IndexError: an index is out of range (the message gives the bound).
            InvalidConfigError: ``out`` of the wrong shape, dtype or device.
        """
        import numpy as np
        import torch

        if self._fd is None:
            raise CarbideError(f"{self!r} is closed; open the file again with MemmapFeatures")
        index = check_index(index, self._shape[0])
        dev = torch.device(device) if device is not None else torch.device("cpu")
        n, d = index.numel(), self._shape[1]
        if out is not None and (out.shape != (n, d) or out.dtype != torch.float32
                                or out.device != dev):
            raise InvalidConfigError(
                f"out must be float32 {(n, d)} on {dev}, got {out.dtype} {tuple(out.shape)} on "
                f"{out.device}"
            )
        idx = index.numpy()
        direct = out is not None and dev.type == "cpu" and out.is_contiguous()
        rows = out if direct else torch.empty((n, d), dtype=torch.float32)
        if n:
            np.take(self._array, idx, axis=0, out=rows.numpy())
            if self.budget_bytes is not None:
                self._enforce_budget()
        if direct or (out is None and dev.type == "cpu"):
            return rows
        if out is None:
            return rows.to(dev, non_blocking=True)
        return out.copy_(rows)

    def _enforce_budget(self) -> None:
        """Evict the whole file when more than the budget of it is resident."""
        if self.resident_bytes() > self.budget_bytes:
            self.evict()
            self.evictions += 1

    def evict(self) -> None:
        """Drop the file's pages from this process's mapping and from the page cache, so the
        next reads come from disk. (Dirty pages cannot exist: the mapping is read-only. On a
        file system without a page cache of its own, e.g. tmpfs, nothing is dropped:
        :meth:`resident_bytes` tells.)"""
        if self._mm is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._mm.madvise(mmap.MADV_DONTNEED)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_DONTNEED)

    def resident_bytes(self) -> int:
        """Bytes of the file now in the page cache (``mincore`` over the mapping; Linux)."""
        import ctypes

        import numpy as np

        if self._mm is None:
            return 0
        if not sys.platform.startswith("linux"):
            raise CarbideError(f"resident_bytes needs Linux's mincore; this is {sys.platform}")
        libc = ctypes.CDLL(None, use_errno=True)
        vec = np.zeros(-(-self._nbytes_file // _PAGE), dtype=np.uint8)
        addr = np.frombuffer(self._mm, dtype=np.uint8).ctypes.data
        rc = libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(self._nbytes_file),
                          vec.ctypes.data_as(ctypes.c_void_p))
        if rc != 0:
            err = ctypes.get_errno()
            raise CarbideError(f"mincore failed on {self.path}: {os.strerror(err)}")
        return int((vec & 1).sum()) * _PAGE

    def close(self) -> None:
        """Unmap and close the file (the store cannot gather afterwards)."""
        if getattr(self, "_fd", None) is None:
            return
        self._array = None
        if self._mm is not None:
            # gathered rows are copies; only a view of the mapping made elsewhere can still
            # export it, and then the mapping closes when that view is collected
            with contextlib.suppress(BufferError):
                self._mm.close()
        os.close(self._fd)
        self._fd = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # never raise from a finalizer
            self.close()

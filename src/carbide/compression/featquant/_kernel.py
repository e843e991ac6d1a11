"""Fused gather-and-dequantize CPU kernel for SQ and VQ codes (numba).

Paper: Ma et al., arXiv 2207.14696 (BiFeat gathers the codes of a mini-batch's nodes and
dequantizes them). The torch path in ``QuantizedFeatures.decode`` does this in two passes
(``index_select`` of the code rows, then one ``index_select`` from the decode table through an
int32 index buffer); this kernel does it in one: per block of output rows it first copies the
blocks' code rows into a small buffer (independent loads, so many cache misses are in flight
at once), then writes each output row once, contiguous float32, straight from the decode table.

Every decoder here is a table of ``per`` floats per entry: SQ 1/2/4 bits, the 256-entry byte
table (one packed byte -> ``8 // bits`` values); SQ 8/16 bits, the levels (``per = 1``, code 16
shifted by 32768); VQ, the codebooks flattened to ``(S * L, width)`` (code ``c`` of sub-space
``s`` -> entry ``s * L + c``). The kernel only copies table entries, so its output equals the
torch path's bit for bit (a test holds them equal).

Why numba rather than a C++ torch extension: numba ships as a wheel with its own LLVM, so
there is no compiler step at install time and a carbide wheel works on any machine; the
machine code is compiled once for the host CPU and kept (``cache=True``) in ``__pycache__``
(or numba's user cache when that is read-only), so later processes load it in milliseconds.
Call :func:`compile_kernels` before timing anything (the first compile takes a few seconds).

The kernel is used when numba imports; ``CARBIDE_FEATQUANT_KERNEL=torch`` (or
``gather(..., kernel="torch")``) forces the torch path, for tests and benchmarks.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from ...exceptions import InvalidConfigError

__all__ = ["ENV_VAR", "KERNELS", "compile_kernels", "fused_gather", "numba_available",
           "resolve_kernel"]

KERNELS = ("auto", "numba", "torch")
ENV_VAR = "CARBIDE_FEATQUANT_KERNEL"


@lru_cache(maxsize=1)
def numba_available() -> bool:
    """Whether numba imports (the fused kernel's only requirement)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_kernel(kernel: str | None) -> str:
    """``"numba"`` or ``"torch"``: the gather path for ``kernel`` (default: ``$ENV_VAR``, else
    ``"auto"``, which is numba when it imports).

    Raises:
        InvalidConfigError: an unknown name (argument or environment variable).
        MissingDependencyError: ``"numba"`` asked for but not installed.
    """
    source = "kernel"
    if kernel is None:
        kernel, source = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto", ENV_VAR
    if kernel not in KERNELS:
        raise InvalidConfigError(f"{source}={kernel!r} is not a gather kernel; choose one of "
                                 f"{', '.join(KERNELS)}")
    if kernel == "auto":
        return "numba" if numba_available() else "torch"
    if kernel == "numba":
        from ..._imports import optional_import

        optional_import("numba", "graph", purpose="the fused gather kernel")
    return kernel


def _kernel() -> Any:
    """The compiled kernel (compiled on first use or loaded from numba's cache); its module
    imports numba, so it is imported here only, and ``import carbide`` never imports numba."""
    from ._numba_gather import gather_decode, gather_serial

    return gather_decode, gather_serial


def fused_gather(codes: Any, index: Any, table: Any, offsets: Any, dim: int, out: Any) -> Any:
    """Write ``table[codes[index[i], j] + offsets[j]]`` spans into row ``i`` of ``out``.

    Args:
        codes: uint8 or int16 ``(N, C)`` contiguous torch tensor on the CPU.
        index: int64 ``(n,)`` row ids, already checked to lie in ``[0, N)`` (the kernel does
            not check bounds: :func:`~carbide.compression.featquant._index.check_index` does).
        table: float32 ``(E, per)`` contiguous decode table.
        offsets: int64 ``(C,)`` entry offset of each code column.
        dim: ``D``, the output width (``<= C * per``; the rest of the last entry is padding).
        out: float32 ``(n, D)`` contiguous CPU tensor, written completely.

    Returns:
        ``out``. Runs on as many threads as torch (``torch.get_num_threads()``).
    """
    import numba
    import torch

    parallel, serial = _kernel()
    threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if index.numel():
        args = (codes.numpy(), index.numpy(), table.reshape(-1).numpy(), int(table.shape[1]),
                offsets.numpy(), int(dim), out.numpy())
        if threads == 1:
            serial(*args)
        else:
            numba.set_num_threads(threads)
            parallel(*args, threads)
    return out


def compile_kernels() -> None:
    """Compile (or load) the kernel for uint8 and int16 codes now, outside any timed region."""
    import torch

    if not numba_available():
        return
    table = torch.zeros((4, 2))
    threads = torch.get_num_threads()
    try:
        for t in {1, 2}:  # the serial and the parallel entry point
            torch.set_num_threads(t)
            for dtype in (torch.uint8, torch.int16):
                codes = torch.zeros((2, 3), dtype=dtype)
                fused_gather(codes, torch.zeros(1, dtype=torch.long), table,
                             torch.zeros(3, dtype=torch.long), 5, torch.empty((1, 5)))
    finally:
        torch.set_num_threads(threads)

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

Which path is the default, and why (``benchmarks/bifeat_gather.py``, 1 thread, ``out=``,
speed-up over fp32 ``index_select`` of the same rows, 2-core machine shared with other jobs):

* the first version of this kernel indexed with signed integers, and numba wraps a negative
  signed index around (a compare and add on every access; unsigned, the same loops ran 2x
  faster, measured). At the issue's setting (4M x 128, 200k rows; load average 8-10) it
  measured slower than the torch path: kernel / torch path SQ1 1.03x / 1.68x, VQ(16,256)
  1.05x / 1.94x, VQ(16,2048) 0.62x / 1.57x;
* every index is now unsigned (``_numba_gather``), and the kernel is the faster path: at the
  issue's setting (load average 4-6) SQ1 2.15x / 2.02x, VQ(16,256) 2.41x / 2.17x; at 1M x
  128, 100k rows (load average 3-7) SQ1 2.05x / 1.92x, SQ2 2.03x / 1.25x, VQ(16,256) 2.54x /
  2.02x, VQ(16,2048) 2.05x / 1.34x. Still short of the issue's 2.5x at its setting. On 2
  threads nothing scaled here (the second core was busy): at 4M rows SQ1 1.44x / 1.01x and
  VQ(16,256) 1.51x / 0.93x over 2-thread fp32, every path slower than on 1 thread.

So ``"auto"`` (the default) is the kernel when numba imports, else the torch path (the tested
fallback; it gives the same bits). ``kernel="torch"`` or ``CARBIDE_FEATQUANT_KERNEL=torch``
forces the torch path, ``"numba"`` the kernel (it needs numba, from the ``graph`` extra, and
says so when it is missing).
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
    ``"auto"``: the kernel when numba imports, else the torch path; see the module docstring
    for the measured figures behind that choice).

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

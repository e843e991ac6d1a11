"""Fused gather-and-dequantize CPU kernel for SQ and VQ codes (numba).

Paper: Ma et al., arXiv 2207.14696 (BiFeat gathers the codes of a mini-batch's nodes and
dequantizes them). The torch path in ``QuantizedFeatures.decode`` does this in two passes
(``index_select`` of the code rows, then one ``index_select`` from the decode table through an
int32 index buffer); this kernel does it in one: it writes each output row once, contiguous
float32, straight from the decode table. For tables of 4, 8 or 16 floats per entry (SQ1, SQ2,
VQ widths 4/8/16: the span kernels) each entry is one vector move, and the code row of the row
16 ahead is prefetched, so the cache misses on the code rows (the only random reads) overlap;
for other widths (SQ4/8/16, other VQ widths) a block kernel first copies a block's code rows
into a small buffer (independent loads, the same overlap), then writes the block's rows.

Every decoder here is a table of ``per`` floats per entry: SQ 1/2/4 bits, the 256-entry byte
table (one packed byte -> ``8 // bits`` values); SQ 8/16 bits, the levels (``per = 1``, code 16
shifted by 32768); VQ, the codebooks flattened to ``(S * L, width)`` (code ``c`` of sub-space
``s`` -> entry ``s * L + c``). The kernel only copies table entries, so its output equals the
torch path's bit for bit (a test holds them equal).

Why numba rather than a C++ torch extension: numba ships as a wheel with its own LLVM, so
there is no compiler step at install time and a carbide wheel works on any machine; the
machine code is compiled once for the host CPU and kept (``cache=True``) in ``__pycache__``
(or numba's user cache when that is read-only), so later processes load it in milliseconds.
Call :func:`compile_kernels` before timing anything (the first compile takes 30-50 s on the
loaded 2-core machine measured: both code dtypes, the serial and the parallel entry point).
No C extension was written: the span kernels' inner loop is already one byte load, an add, a
shift and one 64-byte load and store per VQ(16) entry (read in the generated assembly), which
leaves a C kernel little to gain, and numba met the issue's 2.5x with room to spare.

Which path is the default, and why (``benchmarks/bifeat_gather.py``, 1 thread, ``out=``,
speed-up over fp32 ``index_select`` of the same rows, 2-core AMD EPYC (Zen 4) machine shared
with other jobs):

* the first version of this kernel indexed with signed integers, and numba wraps a negative
  signed index around (a compare and add on every access; unsigned, the same loops ran 2x
  faster, measured). At the issue's setting (4M x 128, 200k rows; load average 8-10) it
  measured slower than the torch path: kernel / torch path SQ1 1.03x / 1.68x, VQ(16,256)
  1.05x / 1.94x, VQ(16,2048) 0.62x / 1.57x;
* every index unsigned (``_numba_gather``): the kernel became the faster path: at the issue's
  setting (load average 4-6) SQ1 2.15x / 2.02x, VQ(16,256) 2.41x / 2.17x; at 1M x 128, 100k
  rows (load average 3-7) SQ1 2.05x / 1.92x, SQ2 2.03x / 1.25x, VQ(16,256) 2.54x / 2.02x,
  VQ(16,2048) 2.05x / 1.34x. Still short of the issue's 2.5x at its setting;
* the span kernels (explicit vector copies, prefetch, non-temporal stores of large aligned
  outputs; ``_numba_gather`` has the step-by-step figures). At the issue's setting (4M x 128,
  200k rows, 1 thread, thread CPU time, ``out=``, median of 5 interleaved rounds, load average
  4.0; fp32 ``index_select`` 30.4 ms), kernel / torch path: SQ1 7.7 ms 3.94x / 1.53x, SQ2
  10.6 ms 2.86x / 1.16x, VQ(16,256) 6.0 ms 5.09x / 1.87x, VQ(16,2048) 9.3 ms 3.27x / 1.58x.
  Without the non-temporal stores (``NT_MIN_BYTES`` above the output; a separate run, load
  average 4.1, fp32 28.2 ms): SQ1 7.0 ms 4.0x, VQ(16,256) 7.8 ms 3.6x; the previous kernel in
  the same run 12.7 / 12.0 ms, 2.2x / 2.4x. Allocating the output instead (``out=None``) every
  path pays for the fresh pages (fp32 90 ms; SQ1 1.57x, VQ(16,256) 1.46x).
  On 2 threads (wall time, the parallel entry point; the second core was busy with other jobs,
  load average 4.3) nothing scaled: fp32 51.0 ms, SQ1 21.5 ms 2.37x, SQ2 24.0 ms 2.13x,
  VQ(16,256) 32.0 ms 1.60x, VQ(16,2048) 13.0 ms 3.94x over 2-thread fp32, every path slower
  than on 1 thread (its rounds swing 12-36 ms as the other jobs take the second core).
  On an idle machine (same command, load average 0.4 before; fp32 12.9 ms on 1 thread,
  7.0 ms on 2): SQ1 3.2 ms 4.02x, SQ2 4.1 ms 3.12x, VQ(16,256) 3.0 ms 4.31x, VQ(16,2048)
  3.4 ms 3.81x on 1 thread; on 2 threads SQ1 2.0 ms 3.41x, VQ(16,256) 1.6 ms 4.44x over
  2-thread fp32, the kernels scaling 1.57-1.93x (``docs/reports/bifeat-bench``).

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
#: outputs of at least this many bytes are stored non-temporally by the span kernels (when
#: aligned): larger than the last-level cache share a reader could hope to find them in, so
#: skipping the caches costs the reader nothing and spares the read-for-ownership of each line
NT_MIN_BYTES = 16 * 2**20


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
    from ._numba_gather import SPAN_SIZES, gather_decode, gather_serial

    return gather_decode, gather_serial, SPAN_SIZES


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

    parallel, serial, span_sizes = _kernel()
    threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    if index.numel():
        per, c = int(table.shape[1]), int(offsets.numel())
        base = int(offsets[0]) if c else 0
        step = int(offsets[1]) - base if c > 1 else 0
        span = per in span_sizes and bool(
            torch.equal(offsets, base + step * torch.arange(c, dtype=offsets.dtype)))
        nt = (span and dim % per == 0 and out.data_ptr() % 64 == 0
              and out.numel() * 4 >= NT_MIN_BYTES)
        args = (codes.numpy(), index.numpy(), table.reshape(-1).numpy(), per, offsets.numpy(),
                span, base, step, int(dim), out.numpy(), nt)
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
    threads = torch.get_num_threads()
    try:
        for t in {1, 2}:  # the serial and the parallel entry point
            torch.set_num_threads(t)
            for dtype in (torch.uint8, torch.int16):
                codes = torch.zeros((2, 3), dtype=dtype)
                # the same compiled entry points serve every table width and offsets (one
                # signature per code dtype); width 2 runs the block kernel, 4 a span kernel
                for per in (2, 4):
                    fused_gather(codes, torch.zeros(1, dtype=torch.long),
                                 torch.zeros((8, per)), torch.arange(3) * 2, 3 * per - 1,
                                 torch.empty((1, 3 * per - 1)))
    finally:
        torch.set_num_threads(threads)

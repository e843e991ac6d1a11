"""The numba source of the fused gather-and-dequantize kernel (see ``_kernel`` for the why).

Imported only by ``_kernel._kernel()``: this module imports numba at the top, and its
functions are module-level so that ``cache=True`` can keep their machine code.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["gather_decode", "gather_serial"]

#: rows whose codes are copied before they are decoded (64 x a 16-byte row: 1 KiB, in L1)
BLOCK = 64
_OPTS = {"nogil": True, "cache": True, "boundscheck": False}


# Every index below is unsigned (np.uintp): numba wraps a negative signed index around (a
# compare and add per access, even with boundscheck off); with unsigned indices it emits
# none. Measured (SQ1, 100k of 1M rows, 1 thread,
# thread CPU time): 13.6 ms -> 6.7 ms, against 7.5-8.6 ms for the torch path and 12-14 ms for
# fp32 index_select. Keep the unsigned constants: uintp + int64 is float64 in numba's typing.
_U = np.uintp
_1, _2, _3, _4, _5, _6, _7, _8 = (_U(k) for k in range(1, 9))


# Loads first, then stores: LLVM cannot prove that the table and the output do not overlap, so
# a plain element loop stays scalar; loading a span into locals before storing it lets the SLP
# vectorizer emit one 32-byte load and store per 8 floats. Spans of the usual sizes (8: SQ1 and
# VQ width 8, 16: VQ width 16, 4: SQ2) get straight-line code: a runtime-length loop of the
# same body was 2x slower (measured).
@njit(inline="always", **_OPTS)
def _copy8(src, s, dst, d):  # pragma: no cover - compiled
    a0 = src[s]
    a1 = src[s + _1]
    a2 = src[s + _2]
    a3 = src[s + _3]
    a4 = src[s + _4]
    a5 = src[s + _5]
    a6 = src[s + _6]
    a7 = src[s + _7]
    dst[d] = a0
    dst[d + _1] = a1
    dst[d + _2] = a2
    dst[d + _3] = a3
    dst[d + _4] = a4
    dst[d + _5] = a5
    dst[d + _6] = a6
    dst[d + _7] = a7


@njit(inline="always", **_OPTS)
def _copy4(src, s, dst, d):  # pragma: no cover - compiled
    a0 = src[s]
    a1 = src[s + _1]
    a2 = src[s + _2]
    a3 = src[s + _3]
    dst[d] = a0
    dst[d + _1] = a1
    dst[d + _2] = a2
    dst[d + _3] = a3


@njit(inline="always", **_OPTS)
def copy_span(src, s, dst, d, count):  # pragma: no cover - compiled
    """``dst[d : d + count] = src[s : s + count]`` for float32 1-D arrays (unsigned s, d,
    count)."""
    if count == _8:
        _copy8(src, s, dst, d)
    elif count == _8 + _8:
        _copy8(src, s, dst, d)
        _copy8(src, s + _8, dst, d + _8)
    elif count == _4:
        _copy4(src, s, dst, d)
    else:
        k = _U(0)
        while k + _8 <= count:
            _copy8(src, s + k, dst, d + k)
            k += _8
        while k < count:
            dst[d + k] = src[s + k]
            k += _1


@njit(**_OPTS)
def _gather_rows(codes, index, table, per, offsets, dim, flat, lo, hi):  # pragma: no cover
    """Rows ``lo .. hi`` of the output (``flat`` is the output viewed 1-D), block by block.

    A function of its own, called from the parallel loop: inlined into the parfor body the
    same loop ran 2x slower (measured; the parfor's outlined body is optimized less well).
    """
    c = _U(codes.shape[1])
    uper, udim = _U(per), _U(dim)
    full = min(c, udim // uper)  # code columns whose whole entry lands in the output
    buf = np.empty((BLOCK, codes.shape[1]), codes.dtype)
    for b0 in range(lo, hi, BLOCK):
        b1 = min(hi, b0 + BLOCK)
        # copy the block's code rows first: independent loads keep many misses in flight
        for i in range(b0, b1):
            r = _U(index[_U(i)])
            k = _U(i - b0)
            for j in range(c):
                buf[k, j] = codes[r, j]
        for i in range(b0, b1):
            k = _U(i - b0)
            base = _U(i) * udim
            for j in range(full):
                t = (_U(buf[k, j]) + _U(offsets[j])) * uper
                copy_span(table, t, flat, base + j * uper, uper)
            if full < c:  # the last entry is cut by the row's padding
                t = (_U(buf[k, full]) + _U(offsets[full])) * uper
                copy_span(table, t, flat, base + full * uper, udim - full * uper)


@njit(parallel=True, **_OPTS)
def gather_decode(codes, index, table, per, offsets, dim, out, threads):  # pragma: no cover
    """``out[i, j*per : (j+1)*per] = table[(codes[index[i], j] + offsets[j]) * per : ... + per]``,
    the last span cut at ``dim``. ``table`` is the flattened ``(E, per)`` float32 decode table;
    rows are split into one contiguous range for each of ``threads`` threads.

    (Non-temporal stores of the output rows, to spare the read-for-ownership of each output
    line, were tried through an LLVM intrinsic and were slower here: measured, not kept.)
    """
    n = index.shape[0]
    parts = min(threads, max(1, n // BLOCK))
    flat = out.reshape(-1)
    for p in prange(parts):
        _gather_rows(codes, index, table, per, offsets, dim, flat, n * p // parts,
                     n * (p + 1) // parts)


@njit(**_OPTS)
def gather_serial(codes, index, table, per, offsets, dim, out):  # pragma: no cover - compiled
    """One thread of :func:`gather_decode`, without the parallel loop: the arrays reach the
    row loop typed C-contiguous, which the parfor's outlined body does not guarantee (its
    one-thread run was 2x slower, measured)."""
    _gather_rows(codes, index, table, per, offsets, dim, out.reshape(-1), 0, index.shape[0])

"""The numba source of the fused gather-and-dequantize kernel (see ``_kernel`` for the why).

Imported only by ``_kernel._kernel()``: this module imports numba at the top, and its
functions are module-level so that ``cache=True`` can keep their machine code.
"""

from __future__ import annotations

import platform

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.core.extending import intrinsic

__all__ = ["SPAN_SIZES", "gather_decode", "gather_serial"]

#: rows whose codes are copied before they are decoded (64 x a 16-byte row: 1 KiB, in L1)
BLOCK = 64
#: table entry widths (floats) with a span kernel of their own (``_rows4/8/16``)
SPAN_SIZES = (4, 8, 16)
#: rows ahead whose code row the span kernels prefetch
PREFETCH_ROWS = 16
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
def gather_decode(codes, index, table, per, offsets, span, base, step, dim, out, nt,
                  threads):  # pragma: no cover - compiled
    """``out[i, j*per : (j+1)*per] = table[(codes[index[i], j] + offsets[j]) * per : ... + per]``,
    the last span cut at ``dim``. ``table`` is the flattened ``(E, per)`` float32 decode table;
    rows are split into one contiguous range for each of ``threads`` threads. ``span``: the
    offsets are ``base + j * step`` (the span kernels apply when ``per`` is in ``SPAN_SIZES``);
    ``nt``: store the output non-temporally (``out`` 64-byte aligned and ``dim % per == 0``).
    """
    n = index.shape[0]
    parts = min(threads, max(1, n // BLOCK))
    flat = out.reshape(-1)
    for p in prange(parts):
        _rows(codes, index, table, per, offsets, span, base, step, dim, flat, n * p // parts,
              n * (p + 1) // parts, nt)


@njit(**_OPTS)
def gather_serial(codes, index, table, per, offsets, span, base, step, dim, out,
                  nt):  # pragma: no cover - compiled
    """One thread of :func:`gather_decode`, without the parallel loop: the arrays reach the
    row loop typed C-contiguous, which the parfor's outlined body does not guarantee (its
    one-thread run was 2x slower, measured)."""
    _rows(codes, index, table, per, offsets, span, base, step, dim, out.reshape(-1), 0,
          index.shape[0], nt)


# --- span kernels: entry widths 4, 8 and 16 floats -------------------------------------------
#
# What made the fused kernel 1.5-2x faster (measured with prototypes of these kernels, 1 thread,
# thread CPU time, 200k rows of a 4M-row table, VQ(16,256) / SQ1 codes; fp32 index_select of
# 4M x 128 took 32 ms in the same run, load average 3.7):
#   block copy + copy_span (above)                          13.1 / 12.9 ms
#   one explicit <P x float> load and store per span,
#     code row of row i + 16 prefetched instead of the block copy  8.1 / 7.6 ms
#   + non-temporal stores of the output (aligned, large outputs)   4.9 / 6.0 ms
# LLVM splits the copy_span loads and stores into 32-byte halves (and never uses the 64-byte
# registers its cost model avoids on this CPU); an explicit <16 x float> is one 64-byte move
# here. The prefetch lets the misses on the code rows (the only random reads; the decode
# table stays in cache) overlap as the block copy did, without its extra pass and buffer.
# Non-temporal stores had been slower with the old kernel's 32-byte stores; with whole
# aligned 64-byte lines they skip the read-for-ownership of every output line, so they are
# used when the output is large (``_kernel.NT_MIN_BYTES``) and every span is aligned to its
# width; a small output is stored normally so that it stays in cache for its reader.


def _data_ptr(context, builder, aty, arr, off):
    """Pointer to element ``off`` of the C-contiguous array ``arr`` (counted as if 1-D)."""
    return builder.gep(context.make_array(aty)(context, builder, arr).data, [off])


def _vector_copy(width: int, nontemporal: bool):
    """An intrinsic ``copy(src, s, dst, d)``: ``dst[d : d + width] = src[s : s + width]`` as one
    ``<width x float>`` load and store (non-temporal: the store bypasses the caches; ``dst + d``
    must then be aligned to ``4 * width`` bytes)."""

    @intrinsic
    def copy(typingctx, src, s, dst, d):
        def codegen(context, builder, signature, args):
            vec = ir.VectorType(ir.FloatType(), width).as_pointer()
            sp = builder.bitcast(_data_ptr(context, builder, signature.args[0], args[0],
                                           args[1]), vec)
            dp = builder.bitcast(_data_ptr(context, builder, signature.args[2], args[2],
                                           args[3]), vec)
            value = builder.load(sp, align=4)
            if nontemporal:
                store = builder.store(value, dp, align=4 * width)
                store.set_metadata("nontemporal", builder.module.add_metadata(
                    [ir.Constant(ir.IntType(32), 1)]))
            else:
                builder.store(value, dp, align=4)
            return context.get_dummy_value()

        return types.void(src, s, dst, d), codegen

    return copy


_vcopy4, _vcopy8, _vcopy16 = (_vector_copy(w, False) for w in SPAN_SIZES)
_vcopy4_nt, _vcopy8_nt, _vcopy16_nt = (_vector_copy(w, True) for w in SPAN_SIZES)


@intrinsic
def _prefetch(typingctx, arr, off):
    """Hint the CPU to load the cache line of ``arr[off]`` (``llvm.prefetch``, read, keep)."""

    def codegen(context, builder, signature, args):
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0i8")
        ptr = _data_ptr(context, builder, signature.args[0], args[0], args[1])
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, off), codegen


_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


@intrinsic
def _sfence(typingctx):
    """Order the non-temporal stores before anything this thread stores next: ``sfence`` on
    x86; elsewhere a sequentially consistent fence (``llvm.x86.sse.sfence`` would not compile
    there, and the span kernels must compile on every CPU numba supports)."""

    def codegen(context, builder, signature, args):
        if _X86:
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse.sfence")
            builder.call(fn, [])
        else:
            builder.fence("seq_cst")
        return context.get_dummy_value()

    return types.void(), codegen


# One function per width: the span is a compile-time constant, so its copy is one vector move
# and its offsets j * width are computed, not loaded. The three bodies are written out, not
# shared through inline helpers: an inlined helper taking an array left a reference-count
# increment and decrement (atomic instructions) in every row, and an atomic instruction drains
# the non-temporal stores in flight (28 ms instead of 5 for VQ(16,256), measured). Entry of
# column j: code + base + j * step (VQ: base 0, step L; SQ: step 0, base 0 or 32768 for 16-bit
# codes), in unsigned arithmetic.
@njit(**_OPTS)
def _rows16(codes, index, table, base, step, dim, flat, lo, hi, nt):  # pragma: no cover
    c, udim, ustep, w = _U(codes.shape[1]), _U(dim), _U(step), _U(16)
    full = min(c, udim // w)
    tail = udim - full * w if full < c else _U(0)
    for i in range(lo, hi):
        if i + PREFETCH_ROWS < hi:  # the first and last code of a later row
            ahead = _U(index[_U(i + PREFETCH_ROWS)]) * c
            _prefetch(codes, ahead)
            _prefetch(codes, ahead + c - _1)
        r = _U(index[_U(i)])
        o = _U(i) * udim
        e = _U(base)
        for j in range(full):
            t = (_U(codes[r, j]) + e) * w
            if nt:
                _vcopy16_nt(table, t, flat, o + _U(j) * w)
            else:
                _vcopy16(table, t, flat, o + _U(j) * w)
            e += ustep
        if tail:  # the last entry, cut by the row's padding
            t = (_U(codes[r, full]) + e) * w
            for k in range(tail):
                flat[o + full * w + _U(k)] = table[t + _U(k)]
    if nt:
        _sfence()


@njit(**_OPTS)
def _rows8(codes, index, table, base, step, dim, flat, lo, hi, nt):  # pragma: no cover
    c, udim, ustep, w = _U(codes.shape[1]), _U(dim), _U(step), _U(8)
    full = min(c, udim // w)
    tail = udim - full * w if full < c else _U(0)
    for i in range(lo, hi):
        if i + PREFETCH_ROWS < hi:  # the first and last code of a later row
            ahead = _U(index[_U(i + PREFETCH_ROWS)]) * c
            _prefetch(codes, ahead)
            _prefetch(codes, ahead + c - _1)
        r = _U(index[_U(i)])
        o = _U(i) * udim
        e = _U(base)
        for j in range(full):
            t = (_U(codes[r, j]) + e) * w
            if nt:
                _vcopy8_nt(table, t, flat, o + _U(j) * w)
            else:
                _vcopy8(table, t, flat, o + _U(j) * w)
            e += ustep
        if tail:  # the last entry, cut by the row's padding
            t = (_U(codes[r, full]) + e) * w
            for k in range(tail):
                flat[o + full * w + _U(k)] = table[t + _U(k)]
    if nt:
        _sfence()


@njit(**_OPTS)
def _rows4(codes, index, table, base, step, dim, flat, lo, hi, nt):  # pragma: no cover
    c, udim, ustep, w = _U(codes.shape[1]), _U(dim), _U(step), _U(4)
    full = min(c, udim // w)
    tail = udim - full * w if full < c else _U(0)
    for i in range(lo, hi):
        if i + PREFETCH_ROWS < hi:  # the first and last code of a later row
            ahead = _U(index[_U(i + PREFETCH_ROWS)]) * c
            _prefetch(codes, ahead)
            _prefetch(codes, ahead + c - _1)
        r = _U(index[_U(i)])
        o = _U(i) * udim
        e = _U(base)
        for j in range(full):
            t = (_U(codes[r, j]) + e) * w
            if nt:
                _vcopy4_nt(table, t, flat, o + _U(j) * w)
            else:
                _vcopy4(table, t, flat, o + _U(j) * w)
            e += ustep
        if tail:  # the last entry, cut by the row's padding
            t = (_U(codes[r, full]) + e) * w
            for k in range(tail):
                flat[o + full * w + _U(k)] = table[t + _U(k)]
    if nt:
        _sfence()


@njit(**_OPTS)
def _rows(codes, index, table, per, offsets, span, base, step, dim, flat, lo, hi,
          nt):  # pragma: no cover - compiled
    """Rows ``lo .. hi``: the span kernel of width ``per`` when ``span`` (the offsets are
    ``base + j * step`` and ``per`` is one of ``SPAN_SIZES``), else the block kernel."""
    if span and per == 16:
        _rows16(codes, index, table, base, step, dim, flat, lo, hi, nt)
    elif span and per == 8:
        _rows8(codes, index, table, base, step, dim, flat, lo, hi, nt)
    elif span and per == 4:
        _rows4(codes, index, table, base, step, dim, flat, lo, hi, nt)
    else:
        _gather_rows(codes, index, table, per, offsets, dim, flat, lo, hi)

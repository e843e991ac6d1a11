"""Fixed-point encoding of float updates into integers mod 2^k (Citadel, arXiv 2105.01281).

Zero-sum masks only cancel exactly over integers, so each enclave turns its (weighted) float
update into integers mod ``2^bits`` before masking, and the root turns the sum back:

- clip every value to ``[-clip, clip]`` (the clipped values are counted and reported);
- multiply by the FedAvg weight ``w_i`` (weights sum to 1, applied inside the enclave);
- scale by ``2^(bits-2) / clip`` and round to the nearest integer, kept mod ``2^bits``.

Because ``sum_i w_i = 1`` and ``|w_i x_i| <= w_i clip``, the true sum of the scaled values is at
most ``2^(bits-2)`` in magnitude, plus ``n / 2`` of rounding, far inside the signed range
``2^(bits-1)``: the modular sum decodes without wrap-around. The decoding error of one
coordinate of the mean is at most ``n * clip / 2^(bits-1)`` (``n`` roundings of half a unit).

Arrays are numpy ``uint32`` (``bits=32``) or ``uint64`` (``bits=64``), whose arithmetic wraps
mod ``2^bits`` by definition.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...exceptions import InvalidConfigError

__all__ = ["BITS", "check_bits", "check_clip", "decode", "encode", "encode_chunks", "fixed_scale",
           "max_error", "uint_dtype"]

#: The supported moduli ``2^bits``.
BITS: tuple[int, ...] = (32, 64)


def check_bits(bits: object) -> int:
    if bits not in BITS or isinstance(bits, bool):
        raise InvalidConfigError(
            f"bits must be one of {BITS} (arithmetic mod 2^bits), got {bits!r}")
    return int(bits)  # type: ignore[arg-type]


def check_clip(clip: object) -> float:
    ok = isinstance(clip, (int, float)) and not isinstance(clip, bool) and np.isfinite(clip)
    if not ok or clip <= 0:
        raise InvalidConfigError(f"clip must be a finite number > 0 (updates are clipped to "
                                 f"[-clip, clip]), got {clip!r}")
    return float(clip)


def uint_dtype(bits: int) -> Any:
    """``np.uint32`` for 32 bits, ``np.uint64`` for 64."""
    return np.uint32 if check_bits(bits) == 32 else np.uint64


def fixed_scale(clip: float, bits: int) -> float:
    """The fixed-point scale ``2^(bits-2) / clip``: one unit is ``clip / 2^(bits-2)``."""
    return float(2.0 ** (check_bits(bits) - 2) / check_clip(clip))


def max_error(n: int, clip: float, bits: int) -> float:
    """Bound on ``|decoded mean - true weighted mean|`` per coordinate: ``n`` half-unit
    roundings, ``n * clip / 2^(bits-1)`` (for values inside the clip range)."""
    return n * 0.5 / fixed_scale(clip, bits)


_CHUNK = 1 << 16  # values per encoding chunk: the float64 scratch (512 KiB) stays in cache


def encode(values: np.ndarray, *, clip: float, bits: int, weight: float = 1.0,
           out: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Encode ``weight * clip(values)`` as integers mod ``2^bits``.

    Args:
        values: float array of any shape (one enclave's update ``(d,)``).
        clip: values are clipped to ``[-clip, clip]``.
        bits: 32 or 64.
        weight: the FedAvg weight of this enclave, in ``[0, 1]``.
        out: a ``uint32``/``uint64`` array of ``values.size`` to write into (and return).

    Returns:
        ``(encoded, clipped)``: the ``uint32``/``uint64`` array (flat) and how many values were
        outside ``[-clip, clip]``. NaN or Inf raises (nothing is silently zeroed).
    """
    return encode_chunks(values, clip=clip, bits=bits, weight=weight, out=out)


def encode_chunks(values: np.ndarray, *, clip: float, bits: int, weight: float = 1.0,
                  out: np.ndarray | None = None, each=None) -> tuple[np.ndarray, int]:
    """:func:`encode` in cache-sized chunks; ``each(start, stop)`` (if given) runs after
    every chunk is encoded into ``out[start:stop]`` (the masks are added there while the
    chunk is still in cache)."""
    scale = fixed_scale(clip, bits)
    x = np.asarray(values).reshape(-1)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    dtype = uint_dtype(bits)
    d = x.shape[0]
    if out is None:
        out = np.empty(d, dtype=dtype)
    elif out.shape != (d,) or out.dtype != dtype:
        raise InvalidConfigError(f"out must be a flat {np.dtype(dtype).name} array of {d} "
                                 f"values, got {out.dtype} {out.shape}")
    # float64 scratch: the scaled value needs more than float32's 24-bit mantissa;
    # |y| <= 2^(bits-2): its two's-complement bits are the value mod 2^bits
    signed = out.view(np.int32 if bits == 32 else np.int64)
    scratch = np.empty(min(_CHUNK, max(d, 1)), dtype=np.float64)
    factor = float(weight) * scale
    clipped = 0
    for start in range(0, d, _CHUNK):
        stop = min(start + _CHUNK, d)
        y = scratch[:stop - start]
        y[...] = x[start:stop]
        lo, hi = float(y.min()), float(y.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise InvalidConfigError("the update holds NaN or Inf; drop it before encoding")
        if lo < -clip or hi > clip:
            clipped += int(np.count_nonzero(np.abs(y) > clip))
            np.clip(y, -clip, clip, out=y)
        np.multiply(y, factor, out=y)
        np.rint(y, out=y)
        np.copyto(signed[start:stop], y, casting="unsafe")
        if each is not None:
            each(start, stop)
    return out, clipped


def decode(total: np.ndarray, *, clip: float, bits: int) -> np.ndarray:
    """Turn a sum mod ``2^bits`` (``uint32``/``uint64``) back into floats (float64): read it
    as a signed two's-complement integer and divide by the scale."""
    scale = fixed_scale(clip, bits)
    signed = total.view(np.int32 if check_bits(bits) == 32 else np.int64)
    return signed.astype(np.float64) / scale

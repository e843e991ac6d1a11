"""Scalar quantization (SQ) of BiFeat: log-uniform magnitudes with a sign bit.

Paper: Ma et al., "BiFeat: Supercharge GNN Training via Graph Feature Quantization",
arXiv 2207.14696. Global thresholds come from a sample: ``fmin = max(P0.5(|x|), 1e-5)``,
``fmax = max(P99.5(|x|), 2e-5)``; a magnitude is binned log-uniformly between them and decoded
at the bin's midpoint in the log domain; ``bits = 1`` keeps only the sign and decodes to
``+/- mean|x|``.

carbide's departures (documented, not silent):

* **Exact zeros.** The authors' code sends ``x = 0`` to a small negative value. Here, when the
  data hold exact zeros (sparse or bag-of-words features), code 0 is reserved for an exact
  zero (``zero_code=True``, the default then) and the percentiles and ``mean|x|`` are taken
  over the non-zero values. For ``bits = 1`` and signed data there is no room for a zero code.
* **Non-negative data.** When no value is negative (``signed=False``, auto-detected), the sign
  bit is not spent: all codes describe magnitudes.
* ``scheme="paper"`` is the authors' code: always a sign bit, no zero code (zeros take the
  negative side), and for 1 bit ``mean|x|`` over all values, raised by 0.1 when below 0.1 (their
  patch: sparse features would otherwise decode to a tiny +/-m that training barely sees).

Code layout: ``code = z + s * m + e`` with ``z = 1`` if a zero code is reserved, ``s`` the sign
(1 = negative) when signed, ``m`` the magnitude levels per sign and ``e`` in ``[0, m)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["SQ_BITS", "SQ_SCHEMES", "SQParams", "sq_decode", "sq_encode", "sq_fit", "sq_levels"]

SQ_SCHEMES = ("carbide", "paper")

SQ_BITS = (1, 2, 4, 8, 16)
_MAX_SAMPLE_VALUES = 1 << 22  # percentiles from at most ~4M values: enough, and bounded memory


@dataclass(frozen=True)
class SQParams:
    """Fitted SQ parameters (all a decoder needs).

    Attributes:
        bits: code width, one of 1, 2, 4, 8, 16.
        signed: whether a sign is coded.
        zero_code: whether code 0 means an exact zero.
        fmin: lower clip of ``|x|`` (P0.5, at least 1e-5).
        fmax: upper clip of ``|x|`` (P99.5, at least 2e-5 and above ``fmin``).
        mean_abs: mean ``|x|`` of the coded values (the magnitude when one level per sign).
    """

    bits: int
    signed: bool
    zero_code: bool
    fmin: float
    fmax: float
    mean_abs: float

    @property
    def levels_per_sign(self) -> int:
        return ((1 << self.bits) - int(self.zero_code)) // (2 if self.signed else 1)


def _check_bits(bits: int) -> None:
    if bits not in SQ_BITS:
        raise InvalidConfigError(f"unsupported SQ bit width {bits!r}; choose one of {SQ_BITS}")


def sq_fit(
    x: torch.Tensor,
    bits: int,
    *,
    signed: bool | None = None,
    zero_code: bool | None = None,
    scheme: str = "carbide",
    sample_rows: int = 100_000,
    seed: int = 0,
) -> SQParams:
    """Fit global SQ thresholds on a random sample of rows of ``x`` (float ``(N, D)``).

    Args:
        x: the features.
        bits: 1, 2, 4, 8 or 16.
        signed: code a sign bit (default: whether any value is negative).
        zero_code: reserve code 0 for exact zeros (default: whether any value is zero, except
            for 1-bit signed data, where there is no room).
        scheme: ``"carbide"`` (default; the choices above) or ``"paper"`` (the authors' code:
            ``signed=True, zero_code=False`` and their 1-bit mean patch; then ``signed`` and
            ``zero_code`` must be left ``None``).
        sample_rows: rows sampled for the percentiles (the authors use 100,000).
        seed: seed of the row sample.
    """
    import torch

    _check_bits(bits)
    if scheme not in SQ_SCHEMES:
        raise InvalidConfigError(f"unknown SQ scheme {scheme!r}; choose one of {SQ_SCHEMES}")
    if scheme == "paper":
        if signed is not None or zero_code is not None:
            raise InvalidConfigError("scheme='paper' fixes signed=True and zero_code=False; "
                                     "leave both unset")
        signed, zero_code = True, False
    if signed is None:
        signed = bool((x < 0).any())
    if zero_code is None:
        zero_code = bool((x == 0).any()) and not (signed and bits == 1)
    if signed and bits == 1 and zero_code:
        raise InvalidConfigError(
            "1-bit SQ of signed data has no room for a zero code; use zero_code=False "
            "(the paper's scheme) or bits >= 2"
        )
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    rows = torch.randperm(n, generator=gen)[: min(n, sample_rows)]
    values = x[rows].abs().reshape(-1).float()
    if values.numel() > _MAX_SAMPLE_VALUES:
        pick = torch.randint(values.numel(), (_MAX_SAMPLE_VALUES,), generator=gen)
        values = values[pick]
    if zero_code:
        values = values[values > 0]
    if values.numel() == 0:
        fmin, fmax, mean_abs = 1e-5, 2e-5, 0.0
    else:
        q = torch.quantile(values.double(), torch.tensor([0.005, 0.995], dtype=torch.float64))
        fmin = max(float(q[0]), 1e-5)
        fmax = max(float(q[1]), 2e-5)
        mean_abs = float(values.double().mean())
    if fmax <= fmin:  # e.g. binary features: every non-zero |x| is the same
        fmax = 2.0 * fmin
    if scheme == "paper" and bits == 1 and mean_abs < 0.1:
        mean_abs += 0.1
    return SQParams(bits, bool(signed), bool(zero_code), fmin, fmax, mean_abs)


def sq_levels(params: SQParams) -> torch.Tensor:
    """The decoded value of every code: float32 ``(2**bits,)`` (unused codes decode to 0)."""
    import torch

    m = params.levels_per_sign
    z = int(params.zero_code)
    if m == 1:
        mags = torch.tensor([params.mean_abs], dtype=torch.float64)
    else:
        lmin, lmax = math.log2(params.fmin), math.log2(params.fmax)
        mags = torch.exp2(lmin + (torch.arange(m, dtype=torch.float64) + 0.5) * (lmax - lmin) / m)
    levels = torch.zeros(1 << params.bits, dtype=torch.float64)
    levels[z : z + m] = mags
    if params.signed:
        levels[z + m : z + 2 * m] = -mags
    return levels.float()


def sq_encode(x: torch.Tensor, params: SQParams, *, chunk_rows: int = 65536) -> torch.Tensor:
    """Codes of ``x`` (float ``(N, D)``): uint8 ``(N, D)`` for bits <= 8, int16 for 16 bits
    (stored as the code minus 32768, so it fits). Unpacked; see :func:`pack_bits`."""
    import torch

    m = params.levels_per_sign
    z = int(params.zero_code)
    lmin, lmax = math.log2(params.fmin), math.log2(params.fmax)
    out_dtype = torch.int16 if params.bits == 16 else torch.uint8
    out = torch.empty(x.shape, dtype=out_dtype)
    for start in range(0, x.shape[0], chunk_rows):
        xs = x[start : start + chunk_rows].float()
        mag = xs.abs()
        if m == 1:
            e = torch.zeros(xs.shape, dtype=torch.int32)
        else:
            logs = torch.log2(mag.clamp(params.fmin, params.fmax))
            e = torch.floor((logs - lmin) / (lmax - lmin) * m).to(torch.int32).clamp_(0, m - 1)
        code = e + z
        if params.signed:
            # without a zero code, zeros join the negative side, as in the authors' code
            neg = (xs < 0) if params.zero_code else (xs <= 0)
            code += neg.to(torch.int32) * m
        if params.zero_code:
            code = torch.where(xs == 0, torch.zeros_like(code), code)
        if params.bits == 16:
            code -= 32768
        out[start : start + chunk_rows] = code.to(out_dtype)
    return out


def sq_decode(codes: torch.Tensor, params: SQParams) -> torch.Tensor:
    """Decode unpacked codes from :func:`sq_encode` to float32 (same shape).

    The plain reference decoder; ``QuantizedFeatures.decode`` is the fused fast path that
    reads packed bytes, and a test holds the two equal.
    """
    levels = sq_levels(params).to(codes.device)
    idx = codes.long() + 32768 if params.bits == 16 else codes.long()
    return levels[idx]

"""Windowed exact Dynamic Mode Decomposition of streamed snapshots, and FFT frequency.

ElasticBroker (arXiv 2010.04828) runs exact DMD with PyDMD on sliding windows of the snapshots
of each region stream. These are the pure functions behind that: :func:`dmd_window` (one
window), :func:`windowed_dmd` (a whole recorded array), and :func:`fft_frequency` (the
reference the DMD frequency is checked against). The streaming engines assemble their windows
with :class:`carbide.insitu.assembly.RegionWindows` and call :func:`dmd_window`.

DMD itself is PyDMD's ``DMD(svd_rank=rank, exact=True)`` (Tu et al. 2014, exact DMD); this
module adds the window bookkeeping, checks and a JSON-friendly result. Frequencies are
``angle(lambda) / (2 pi dt)`` and growth rates ``log|lambda| / dt``, in cycles and 1/time per
unit of ``dt`` (pass ``dt`` in the unit you want: lattice steps, seconds).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._imports import optional_import
from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError

__all__ = [
    "DMDResult",
    "dmd_window",
    "fft_frequency",
    "windowed_dmd",
]

#: Modes with ``|angle(lambda)|`` below this (radians) count as zero-frequency.
ZERO_ANGLE = 1e-8


@dataclass
class DMDResult:
    """Exact DMD of one window of snapshots.

    Attributes:
        start: Step index of the window's first snapshot.
        stop: Step index of the window's last snapshot (inclusive).
        rank: SVD truncation rank used.
        dt: Time between consecutive snapshots.
        eigenvalues: ``(rank,)`` complex discrete-time eigenvalues ``lambda``, PyDMD's order.
        frequencies: ``(rank,)`` ``angle(lambda) / (2 pi dt)`` (signed; a conjugate pair has
            ``+f`` and ``-f``).
        growth_rates: ``(rank,)`` ``log|lambda| / dt`` (0 = neutral, < 0 decaying).
        amplitudes: ``(rank,)`` ``|b_i| * ||phi_i||``: the norm of each mode's contribution to
            the window's first snapshot (PyDMD's ``b`` scaled by the mode norm, since exact DMD
            modes are not unit vectors).
        error: Relative Frobenius error ``||X - X_dmd|| / ||X||`` of the reconstruction of the
            window.
    """

    start: int
    stop: int
    rank: int
    dt: float
    eigenvalues: np.ndarray
    frequencies: np.ndarray
    growth_rates: np.ndarray
    amplitudes: np.ndarray
    error: float

    def dominant_frequency(self, exclude_zero: bool = True) -> float:
        """``|f|`` of the largest-amplitude mode (``exclude_zero``: among modes with non-zero
        frequency, so the mean-flow mode is skipped; a conjugate pair is one oscillation and
        gives the same ``|f|``). ``nan`` when no mode qualifies."""
        freqs = np.abs(self.frequencies)
        amps = self.amplitudes
        if exclude_zero:
            keep = np.abs(np.angle(self.eigenvalues)) > ZERO_ANGLE
            freqs, amps = freqs[keep], amps[keep]
        if freqs.size == 0:
            return float("nan")
        return float(freqs[int(np.argmax(amps))])

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict: complex eigenvalues as ``[real, imag]`` pairs, arrays as lists."""
        dom = self.dominant_frequency()
        return {
            "start": int(self.start), "stop": int(self.stop), "rank": int(self.rank),
            "dt": float(self.dt),
            "eigenvalues": [[float(z.real), float(z.imag)] for z in self.eigenvalues],
            "frequencies": [float(v) for v in self.frequencies],
            "growth_rates": [float(v) for v in self.growth_rates],
            "amplitudes": [float(v) for v in self.amplitudes],
            "error": float(self.error),
            "dominant_frequency": None if math.isnan(dom) else dom,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DMDResult:
        """Inverse of :meth:`to_dict`."""
        eig = np.array([complex(re, im) for re, im in d["eigenvalues"]], dtype=np.complex128)
        return cls(start=int(d["start"]), stop=int(d["stop"]), rank=int(d["rank"]),
                   dt=float(d["dt"]), eigenvalues=eig,
                   frequencies=np.asarray(d["frequencies"], dtype=np.float64),
                   growth_rates=np.asarray(d["growth_rates"], dtype=np.float64),
                   amplitudes=np.asarray(d["amplitudes"], dtype=np.float64),
                   error=float(d["error"]))


def _as_snapshots(snapshots: Any) -> np.ndarray:
    x = np.asarray(snapshots)
    if x.ndim != 2:
        raise InvalidConfigError(
            f"snapshots must be a 2-D array (n_features, n_snapshots), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise InvalidConfigError(f"snapshots must be real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise InvalidConfigError(f"snapshots contain {bad} non-finite values (NaN/Inf)")
    return x


def _check_rank(rank: int, window: int, n_features: int) -> int:
    check_int("rank", rank, 1)
    if rank > window - 1:
        raise InvalidConfigError(
            f"rank must be <= window - 1 = {window - 1} (DMD pairs {window} snapshots into "
            f"{window - 1} steps), got {rank}")
    if rank > n_features:
        raise InvalidConfigError(
            f"rank must be <= the number of features {n_features}, got {rank}")
    return rank


def _dmd(x: np.ndarray, *, dt: float, rank: int, start: int, stop: int) -> DMDResult:
    pydmd = optional_import("pydmd", "insitu")
    with warnings.catch_warnings():
        # PyDMD warns on ill-conditioned snapshot matrices; the explicit rank truncation is
        # exactly how we deal with that, so the warning is noise here.
        warnings.filterwarnings("ignore", message="Input data condition number")
        dmd = pydmd.DMD(svd_rank=rank, exact=True).fit(x)
    eigs = np.asarray(dmd.eigs, dtype=np.complex128)
    modes = np.asarray(dmd.modes)
    b = np.asarray(dmd.amplitudes)
    amps = np.abs(b) * np.linalg.norm(modes, axis=0)
    recon = np.asarray(dmd.reconstructed_data).real
    norm = np.linalg.norm(x)
    err = float(np.linalg.norm(x - recon) / norm) if norm > 0 else 0.0
    with np.errstate(divide="ignore"):
        growth = np.log(np.abs(eigs)) / dt
    return DMDResult(start=start, stop=stop, rank=len(eigs), dt=dt, eigenvalues=eigs,
                     frequencies=np.angle(eigs) / (2 * np.pi * dt), growth_rates=growth,
                     amplitudes=amps, error=err)


def dmd_window(snapshots: Any, *, dt: float, rank: int,
               steps: Any | None = None) -> DMDResult:
    """Exact DMD (PyDMD) of one window of snapshots.

    Args:
        snapshots: ``(n_features, T)`` real array, one snapshot per column, ``dt`` apart.
        dt: Time between snapshots (> 0).
        rank: SVD truncation rank, ``1 <= rank <= T - 1`` (and ``<= n_features``).
        steps: Optional ``(T,)`` step indices of the columns; sets ``start``/``stop`` of the
            result (default ``0`` and ``T - 1``).

    Raises:
        InvalidConfigError: wrong dimensions, non-finite values, fewer than 2 snapshots, or a
            rank out of range.
    """
    x = _as_snapshots(snapshots)
    check_real("dt", dt, 0.0, math.inf, lo_open=True, hi_open=True)
    t = x.shape[1]
    if t < 2:
        raise InvalidConfigError(f"DMD needs at least 2 snapshots, got {t}")
    _check_rank(rank, t, x.shape[0])
    if steps is None:
        start, stop = 0, t - 1
    else:
        steps = np.asarray(steps).ravel()
        if steps.size != t:
            raise InvalidConfigError(f"steps has {steps.size} entries for {t} snapshots")
        start, stop = int(steps[0]), int(steps[-1])
    return _dmd(x, dt=float(dt), rank=rank, start=start, stop=stop)


def windowed_dmd(snapshots: Any, *, dt: float, window: int, stride: int,
                 rank: int) -> list[DMDResult]:
    """Exact DMD on sliding windows ``[s, s + window)`` for ``s = 0, stride, 2 stride, ...``
    (every window that fits: ``(T - window) // stride + 1`` of them).

    Args:
        snapshots: ``(n_features, T)`` real array, one snapshot per column.
        dt: Time between snapshots.
        window: Snapshots per window (``2 <= window <= T``).
        stride: Snapshots between window starts (>= 1).
        rank: SVD truncation rank (``<= window - 1``).

    Returns:
        One :class:`DMDResult` per window; ``start``/``stop`` are column indices.

    Raises:
        InvalidConfigError: ``window`` longer than the data, bad ``stride``/``rank``, wrong
            dimensions or non-finite data.
    """
    x = _as_snapshots(snapshots)
    check_real("dt", dt, 0.0, math.inf, lo_open=True, hi_open=True)
    check_int("window", window, 2)
    check_int("stride", stride, 1)
    t = x.shape[1]
    if window > t:
        raise InvalidConfigError(
            f"window = {window} is longer than the data ({t} snapshots): use window <= {t}")
    _check_rank(rank, window, x.shape[0])
    return [_dmd(x[:, s:s + window], dt=float(dt), rank=rank, start=s, stop=s + window - 1)
            for s in range(0, t - window + 1, stride)]


def fft_frequency(signal: Any, dt: float, *, hann: bool = True, pad: int = 8) -> float:
    """Dominant non-zero frequency of a 1-D signal by FFT.

    The mean is removed, a Hann window applied (``hann=True``), the signal zero-padded to
    ``pad`` times its length, and the peak refined by parabolic interpolation of the log
    magnitude, so the estimate is much finer than the bin width ``1 / (T dt)``.

    Args:
        signal: ``(T,)`` samples, ``T >= 4``, ``dt`` apart.
        dt: Sample spacing.
        hann: Apply a Hann window (less leakage from the ends).
        pad: Zero-padding factor (>= 1).

    Returns:
        Frequency in cycles per unit of ``dt``; ``nan`` for a constant signal.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise InvalidConfigError(f"signal must be 1-D, got shape {x.shape}")
    if x.size < 4:
        raise InvalidConfigError(f"signal needs at least 4 samples, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise InvalidConfigError("signal contains non-finite values (NaN/Inf)")
    check_real("dt", dt, 0.0, math.inf, lo_open=True, hi_open=True)
    check_int("pad", pad, 1)
    x = x - x.mean()
    if hann:
        x = x * np.hanning(x.size)
    n = x.size * pad
    mag = np.abs(np.fft.rfft(x, n=n))
    if mag.size < 3 or not np.any(mag[1:] > 0):
        return float("nan")
    k = 1 + int(np.argmax(mag[1:]))
    shift = 0.0
    if 1 <= k < mag.size - 1 and mag[k - 1] > 0 and mag[k + 1] > 0:
        a, b, c = np.log(mag[k - 1]), np.log(mag[k]), np.log(mag[k + 1])
        denom = a - 2 * b + c
        if denom != 0:
            shift = 0.5 * (a - c) / denom
    return float((k + shift) / (n * dt))

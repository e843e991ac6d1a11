"""Windowed exact DMD: known frequencies, agreement with PyDMD, windows, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError
from carbide.insitu.dmd import (
    DMDResult,
    dmd_window,
    fft_frequency,
    windowed_dmd,
)

DT = 0.05
F1, F2, GROWTH = 1.3, 3.1, 0.1


def _two_tone(n=64, t_len=200, *, mean=0.0, growth=GROWTH, seed=0):
    """Four spatial modes x (cos, sin) at F1 (neutral) and F2 (growing): rank-4 dynamics."""
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((5, n))
    t = np.arange(t_len) * DT
    g = np.exp(growth * t)
    x = (np.outer(p[0], np.cos(2 * np.pi * F1 * t)) + np.outer(p[1], np.sin(2 * np.pi * F1 * t))
         + 0.4 * np.outer(p[2], g * np.cos(2 * np.pi * F2 * t))
         + 0.4 * np.outer(p[3], g * np.sin(2 * np.pi * F2 * t)))
    return x + mean * np.outer(p[4], np.ones(t_len))


def test_recovers_two_known_frequencies_and_growth():
    res = dmd_window(_two_tone(), dt=DT, rank=4)
    assert res.rank == 4 and (res.start, res.stop) == (0, 199)
    freqs = np.sort(np.abs(res.frequencies))
    np.testing.assert_allclose(freqs, [F1, F1, F2, F2], rtol=1e-2)
    for f, g in zip(res.frequencies, res.growth_rates, strict=True):
        expected = GROWTH if abs(abs(f) - F2) < 0.1 else 0.0
        assert g == pytest.approx(expected, abs=1e-3)
    assert res.error < 1e-8
    # The F1 pair has the larger amplitude (unit vs 0.4 weights): it is the dominant one.
    assert res.dominant_frequency() == pytest.approx(F1, rel=1e-2)


def test_matches_pydmd_called_directly():
    pydmd = pytest.importorskip("pydmd")
    x = _two_tone(mean=2.0) + 0.01 * np.random.default_rng(1).standard_normal((64, 200))
    res = dmd_window(x, dt=DT, rank=5)
    ref = pydmd.DMD(svd_rank=5, exact=True).fit(x)
    np.testing.assert_allclose(res.eigenvalues, ref.eigs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.frequencies, np.angle(ref.eigs) / (2 * np.pi * DT))
    np.testing.assert_allclose(res.amplitudes,
                               np.abs(ref.amplitudes) * np.linalg.norm(ref.modes, axis=0))


def test_dominant_frequency_skips_the_mean_mode():
    res = dmd_window(_two_tone(mean=10.0, growth=0.0), dt=DT, rank=5)
    assert res.dominant_frequency(exclude_zero=False) == pytest.approx(0.0, abs=1e-9)
    assert res.dominant_frequency() == pytest.approx(F1, rel=1e-2)


def test_to_dict_is_json_and_round_trips():
    res = dmd_window(_two_tone(), dt=DT, rank=4)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["dominant_frequency"] == pytest.approx(F1, rel=1e-2)
    back = DMDResult.from_dict(d)
    np.testing.assert_array_equal(back.eigenvalues, res.eigenvalues)
    assert back.error == res.error and back.rank == res.rank


def test_windowed_counts_and_bounds():
    x = _two_tone(t_len=200)
    res = windowed_dmd(x, dt=DT, window=50, stride=25, rank=4)
    assert [(r.start, r.stop) for r in res] == [(s, s + 49) for s in range(0, 151, 25)]
    for r in res:
        assert r.dominant_frequency() == pytest.approx(F1, rel=1e-2)
    assert len(windowed_dmd(x, dt=DT, window=200, stride=7, rank=4)) == 1
    assert len(windowed_dmd(x, dt=DT, window=30, stride=80, rank=4)) == 3  # starts 0, 80, 160
    # Each window is the DMD of its own slice.
    one = dmd_window(x[:, 25:75], dt=DT, rank=4)
    np.testing.assert_allclose(res[1].eigenvalues, one.eigenvalues)


@pytest.mark.parametrize("kwargs, match", [
    ({"window": 201}, "longer than the data"),
    ({"rank": 50}, "rank must be <= window - 1"),
    ({"stride": 0}, "stride"),
    ({"window": 1}, "window"),
    ({"dt": 0.0}, "dt"),
    ({"rank": 0}, "rank"),
])
def test_windowed_errors(kwargs, match):
    args = {"dt": DT, "window": 50, "stride": 10, "rank": 4, **kwargs}
    with pytest.raises(InvalidConfigError, match=match):
        windowed_dmd(_two_tone(), **args)


def test_data_errors():
    x = _two_tone()
    bad = x.copy()
    bad[3, 7] = np.nan
    with pytest.raises(InvalidConfigError, match="1 non-finite"):
        dmd_window(bad, dt=DT, rank=4)
    with pytest.raises(InvalidConfigError, match="2-D"):
        dmd_window(x[0], dt=DT, rank=4)
    with pytest.raises(InvalidConfigError, match="2-D"):
        dmd_window(x[None], dt=DT, rank=4)
    with pytest.raises(InvalidConfigError, match="number of features"):
        dmd_window(x[:3], dt=DT, rank=4)
    with pytest.raises(InvalidConfigError, match="steps has"):
        dmd_window(x, dt=DT, rank=4, steps=[1, 2])


def test_fft_frequency_between_bins():
    t = np.arange(500) * DT  # bin width 1/(500 DT) = 0.04: F1 = 1.3 is between bins
    sig = 3.0 + np.sin(2 * np.pi * F1 * t) + 0.3 * np.sin(2 * np.pi * F2 * t)
    assert fft_frequency(sig, DT) == pytest.approx(F1, rel=1e-3)
    assert fft_frequency(sig, DT, hann=False, pad=1) == pytest.approx(F1, rel=0.05)
    assert np.isnan(fft_frequency(np.ones(10), DT))
    with pytest.raises(InvalidConfigError, match="4 samples"):
        fft_frequency([1.0, 2.0], DT)
    with pytest.raises(InvalidConfigError, match="1-D"):
        fft_frequency(np.ones((4, 4)), DT)


def test_dmd_of_the_cylinder_wake_matches_the_probe_fft():
    # The ElasticBroker check on a tiny grid (~2 s): windowed DMD of the vorticity snapshots and
    # an FFT of the wake probe agree on the shedding frequency.
    from carbide.insitu.lbm import CylinderFlow, run_cylinder

    cfg = CylinderFlow(nx=120, ny=32, radius=3, u_in=0.1, reynolds=100)
    every, start = 10, 1500
    snaps: list[np.ndarray] = []
    stats = run_cylinder(cfg, 3000, every=every,
                         sink=lambda s, a: snaps.append(a.ravel()) if s > start else None)
    x = np.stack(snaps, axis=1)
    assert x.shape == (32 * 120, 150)
    f_fft = fft_frequency(stats.probe_signal[start:], 1.0)
    results = windowed_dmd(x, dt=float(every), window=60, stride=30, rank=8)
    assert len(results) == 4
    for r in results:
        assert r.dominant_frequency() == pytest.approx(f_fft, rel=0.05)
        assert r.error < 0.2
    assert 0.15 <= f_fft * cfg.diameter / cfg.u_in <= 0.25

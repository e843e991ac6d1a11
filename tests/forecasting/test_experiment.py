"""Sweep and compare on a small periodic series; age parsing; non-monotone stretches."""

from __future__ import annotations

import math

import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError

pd = pytest.importorskip("pandas")
pytest.importorskip("torch")
pytest.importorskip("sklearn")

from carbide.forecasting.experiment import (  # noqa: E402
    CompareConfig,
    SweepConfig,
    compare,
    non_monotone_stretches,
    parse_ages,
    sweep,
)
from carbide.forecasting.train import TrainConfig  # noqa: E402

FAST = TrainConfig(model="mlp", epochs=4, patience=2, batch_size=128)


def _daily(n=24 * 30, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    p = np.maximum(0, np.sin(2 * np.pi * t / 24)) + 0.1 * rng.normal(size=n)
    temp = np.cos(2 * np.pi * t / 24) + 0.1 * rng.normal(size=n)
    return pd.DataFrame({"p": p, "temp": temp},
                        index=pd.date_range("2021-01-01", periods=n, freq="h"))


def test_parse_ages_ranges_and_lists():
    assert parse_ages("1:48") == tuple(range(1, 49))
    assert parse_ages("1:48:12") == (1, 13, 25, 37)
    assert parse_ages("24,1,6,6") == (1, 6, 24)
    assert parse_ages("1,3:9:3") == (1, 3, 6, 9)
    for bad in ("a:b", "5:1", "1:4:0", "", "1:2:3:4"):
        with pytest.raises(InvalidConfigError, match="--ages takes integers|empty"):
            parse_ages(bad)
    with pytest.raises(InvalidConfigError, match=r"ages must be >= 0, got \[-1\]"):
        parse_ages("-1,2")


def test_non_monotone_stretches_find_falls_beyond_tolerance():
    ages = [1, 6, 12, 18, 24, 30]
    vals = [0.1, 0.5, 0.6, 0.4, 0.3, 0.55]
    [s] = non_monotone_stretches(ages, vals, tol=0.05)
    assert (s["peak_age"], s["trough_age"]) == (12, 24) and s["drop"] == pytest.approx(0.3)
    assert non_monotone_stretches(ages, sorted(vals)) == []
    assert non_monotone_stretches(ages, [0.1, 0.5, 0.49, 0.6, 0.7, 0.8], tol=0.05) == []


def test_sweep_rows_carry_losses_and_mmse_per_window_and_age():
    cfg = SweepConfig("p", ("p", "temp"), (1, 12, 24), windows=(3,), offsets={"temp": 2},
                      train=FAST)
    rows = sweep(_daily(), cfg, show_progress=False)
    assert [(r["window"], r["age"]) for r in rows] == [(3, 1), (3, 12), (3, 24)]
    assert rows[1]["ages"] == {"p": 12, "temp": 14}
    for r in rows:
        for key in ("train_mse", "val_mse", "test_mse", "mmse_estimate"):
            assert math.isfinite(r[key]) and r[key] >= 0
        assert r["n_train"] > r["n_test"] > 0
    # a daily cycle: the 12-h-old window is the least informative of the three
    assert rows[1]["mmse_estimate"] > max(rows[0]["mmse_estimate"], rows[2]["mmse_estimate"])


def test_compare_reports_the_three_approaches_per_age():
    cfg = CompareConfig("p", ("p",), (1, 12), window=4, train=FAST)
    metrics, rows = compare(_daily(), cfg, show_progress=False)
    for key in ("per_age_test_mse", "joint_test_mse", "joint_age_input_test_mse"):
        assert math.isfinite(metrics[key])
        assert metrics[key] == pytest.approx(np.mean([r[key] for r in rows]))
    assert metrics["networks"] == {"per_age": 2, "joint": 1, "joint_age_input": 1}
    assert [r["age"] for r in rows] == [1, 12]


def test_configs_validate():
    with pytest.raises(InvalidConfigError, match=r"offsets name \['rain'\]"):
        SweepConfig("p", ("p",), (1,), offsets={"rain": 1})
    with pytest.raises(InvalidConfigError, match="joint_mode must be"):
        CompareConfig("p", ("p",), (1,), joint_mode="some")

"""The model-free MMSE estimators against closed forms, and the Markov test."""

from __future__ import annotations

import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from carbide.forecasting.datasets import make_age_dataset  # noqa: E402
from carbide.forecasting.mmse import (  # noqa: E402
    binned_conditional_mse,
    knn_conditional_mse,
    markov_gap,
    mmse_estimate,
    summarize,
)

A = 0.9


def _ar1(n=6000, a=A, seed=0):
    """Stationary Gaussian AR(1) with unit variance: y_t = a y_{t-1} + e_t."""
    rng = np.random.default_rng(seed)
    e = rng.normal(scale=np.sqrt(1 - a * a), size=n)
    y = np.empty(n)
    y[0] = rng.normal()
    for t in range(1, n):
        y[t] = a * y[t - 1] + e[t]
    return y


def _frame(y):
    return pd.DataFrame({"y": y}, index=pd.date_range("2020-01-01", periods=len(y), freq="h"))


@pytest.mark.parametrize("delta", [1, 2, 5, 10])
def test_knn_and_binned_estimates_match_the_ar1_closed_form(delta):
    y = _ar1()
    true = 1 - A ** (2 * delta)  # sigma_y^2 (1 - a^(2 Delta)), sigma_y = 1
    knn = knn_conditional_mse(y[:-delta], y[delta:], k=20)
    binned = binned_conditional_mse(y[:-delta], y[delta:], bins=30)
    assert knn == pytest.approx(true, abs=0.04)
    assert binned == pytest.approx(true, abs=0.04)
    # the same through the data-set path (standardized by the sample's own statistics)
    ds = make_age_dataset(_frame(y), "y", ["y"], 1, delta)
    est = mmse_estimate(ds)
    assert est == pytest.approx(true / y[delta:].var(), abs=0.04)


def test_debiasing_removes_the_neighbour_mean_variance():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=4000)
    y = np.sin(6 * x) + rng.normal(scale=0.5, size=4000)  # MMSE = 0.25
    raw = knn_conditional_mse(x, y, k=5, debias=False)
    fixed = knn_conditional_mse(x, y, k=5)
    assert raw == pytest.approx(0.25 * 6 / 5, rel=0.08)  # s^2 (1 + 1/k)
    assert fixed == pytest.approx(0.25, rel=0.08)


def test_exact_duplicates_are_left_out_properly():
    x = np.repeat(np.arange(50.0), 10)  # every x ten times
    y = np.tile(np.arange(10.0), 50)    # Var(y | x) = 8.25 (ddof 0)
    est = knn_conditional_mse(x, y, k=9, debias=False, standardize=False)
    # each leave-one-out neighbour set is exactly the other 9 copies: the residual is
    # (10 / 9)(y_i - mean), and debiasing by 9/10 gives the unbiased (ddof 1) variance
    assert est == pytest.approx(8.25 * (10 / 9) ** 2)
    assert knn_conditional_mse(x, y, k=9, standardize=False) == pytest.approx(8.25 * 10 / 9)


def test_markov_gap_near_zero_for_ar1_and_positive_for_ar2():
    ar1 = markov_gap(_frame(_ar1(5000)), "y", "y", 2, repeats=4, seed=0)
    assert abs(ar1.gap) < 0.02 and ar1.mmse_markov == pytest.approx(1 - A ** 4, abs=0.05)
    rng = np.random.default_rng(2)
    z = np.zeros(5000)
    for t in range(2, 5000):
        z[t] = 0.5 * z[t - 1] + 0.4 * z[t - 2] + rng.normal()
    ar2 = markov_gap(_frame(z), "y", ["y"], 1, repeats=4, seed=0)
    assert ar2.gap > 0.03 and ar2.gap > 3 * ar2.gap_sd
    assert ar2.ages == {"y": 1} and ar2.window == 1 and ar2.relative > 0.1


def test_summaries_and_bad_arguments():
    ds = make_age_dataset(_frame(_ar1(500)), "y", ["y"], 6, 1)
    assert summarize(ds, "window").shape == (len(ds), 6)
    assert summarize(ds, "last").shape == (len(ds), 1)
    assert summarize(ds, 2).shape == (len(ds), 2)
    assert summarize(ds, "pca:3").shape == (len(ds), 3)
    with pytest.raises(InvalidConfigError, match="summary must be 'window', 'last'"):
        summarize(ds, "mean")
    with pytest.raises(InvalidConfigError, match="k=20 needs at least 22 samples"):
        knn_conditional_mse(np.zeros(10), np.zeros(10))
    with pytest.raises(InvalidConfigError, match="one-dimensional"):
        mmse_estimate(ds, method="binned")
    with pytest.raises(InvalidConfigError, match="method must be"):
        mmse_estimate(ds, method="kde")

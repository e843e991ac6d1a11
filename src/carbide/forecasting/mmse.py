"""Model-free estimates of the minimum achievable MSE for given feature ages.

Paper (arXiv 2103.00092, Sec. III-IV): the minimum training loss of a forecaster that sees the
features ``X_{t-Delta}`` is the L-conditional entropy ``H_L(Y_t | X_{t-Delta})``; for the
squared loss this is the minimum mean squared error ``E[Var(Y_t | X_{t-Delta})]``. It need not
grow with the age ``Delta``; it does (approximately) when ``Y_t, X_t`` are (close to) a Markov
chain. These estimators show its shape without trusting any trained network.

Estimators (both written here because they are a few lines of numpy on top of scikit-learn's
neighbour search, and the bias correction is specific to this use):

* :func:`knn_conditional_mse`: leave-one-out k-nearest-neighbour regression residual. With
  ``y = f(x) + e`` and ``Var(e | x) = s^2``, the residual of the k-neighbour mean has
  expectation ``s^2 + s^2 / k + b^2`` where ``b`` is the smoothing bias
  ``f(x) - mean_j f(x_j)``. ``debias=True`` multiplies by ``k / (k + 1)``, which removes the
  ``s^2 / k`` term (the variance of the neighbours' mean) exactly for homoscedastic noise and
  approximately otherwise. The ``b^2`` term remains, so the estimate is biased **upwards**; it
  grows with the neighbourhood radius, i.e. with ``k / n`` and, sharply, with the dimension of
  ``x`` (curse of dimensionality: in ``d`` dimensions the k-NN radius shrinks like
  ``(k / n)^(1/d)``). Keep ``x`` low-dimensional: a short window, the last value of each
  feature (``summary="last"``) or a few principal components (``summary=p``). A summary
  discards information, so its MMSE is itself >= the full window's: in the large-sample limit
  every estimate here is an upper bound on the window's MMSE.
* :func:`binned_conditional_mse`: pooled within-bin variance of ``y`` over quantile bins of a
  one-dimensional ``x`` (unbiased within bins; the bin width adds the same kind of upward bias).

:func:`markov_gap` measures how far the data are from Markov: the drop in estimated MMSE when
the window gains the next-older value ``X_{t-Delta-u}``, with a spread over random subsamples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._imports import optional_import
from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError
from .datasets import AgeAwareDataset, TimeTable, as_time_table, make_age_dataset

__all__ = ["MarkovGap", "binned_conditional_mse", "knn_conditional_mse", "markov_gap",
           "mmse_estimate", "summarize"]


def _as_2d(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


def knn_conditional_mse(x: Any, y: Any, *, k: int = 20, debias: bool = True,
                        standardize: bool = True) -> float:
    """Leave-one-out k-NN estimate of ``E[Var(y | x)]`` (see the module docstring for bias).

    Args:
        x: ``(n, d)`` conditioning values (``(n,)`` for one dimension).
        y: ``(n,)`` targets.
        k: neighbours (excluding the point itself).
        debias: multiply by ``k / (k + 1)`` to remove the neighbour-mean variance term.
        standardize: scale each column of ``x`` to unit standard deviation first (Euclidean
            neighbours then weigh the columns equally).

    Returns:
        The estimate, in the units of ``y`` squared.
    """
    neighbors = optional_import("sklearn.neighbors", "forecast", purpose="k-NN MMSE estimates")
    x = _as_2d(x)
    y = np.asarray(y, dtype=np.float64).ravel()
    check_int("k", k, 1)
    n = len(y)
    if len(x) != n:
        raise InvalidConfigError(f"x has {len(x)} rows but y has {n}")
    if n < k + 2:
        raise InvalidConfigError(f"k-NN estimate with k={k} needs at least {k + 2} samples, "
                                 f"got {n}")
    if standardize:
        s = x.std(axis=0)
        x = (x - x.mean(axis=0)) / np.where(s > 0, s, 1.0)
    nn = neighbors.NearestNeighbors(n_neighbors=k + 1).fit(x)
    _, idx = nn.kneighbors(x)
    # leave one out: drop the point itself (with exact duplicates it may not come first;
    # if it is absent from its own k + 1 list, drop the farthest instead)
    own = idx == np.arange(n)[:, None]
    own[~own.any(axis=1), -1] = True
    neigh = idx[~own].reshape(n, k)
    resid = np.mean((y - y[neigh].mean(axis=1)) ** 2)
    return float(resid * k / (k + 1) if debias else resid)


def binned_conditional_mse(x: Any, y: Any, *, bins: int = 20) -> float:
    """Pooled within-bin variance of ``y`` over ``bins`` quantile bins of 1-D ``x``.

    ``sum_b sum_{i in b} (y_i - mean_b)^2 / (n - B)``: unbiased for the within-bin variance;
    the spread of ``E[y | x]`` inside a bin adds an upward bias.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 and not (x.ndim == 2 and x.shape[1] == 1):
        raise InvalidConfigError(f"binned estimate needs one-dimensional x, got shape {x.shape}")
    x = x.ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    check_int("bins", bins, 1)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, max(0, len(edges) - 2))
    counts = np.bincount(which)
    sums = np.bincount(which, weights=y)
    used = counts > 0
    means = np.zeros_like(sums)
    means[used] = sums[used] / counts[used]
    ss = np.sum((y - means[which]) ** 2)
    dof = len(y) - int(used.sum())
    if dof <= 0:
        raise InvalidConfigError(f"{len(y)} samples in {int(used.sum())} bins: use fewer bins")
    return float(ss / dof)


def summarize(ds: AgeAwareDataset, summary: str | int = "window") -> np.ndarray:
    """Conditioning values ``(n, d)`` for the MMSE estimate from a data set's inputs.

    ``"window"``: the whole window (``u * C`` columns); ``"last"``: each channel's freshest
    value (``C``); an int ``p``: the first ``p`` principal components of the standardized
    window (scikit-learn PCA).
    """
    z = ds.inputs
    if summary == "window":
        return _as_2d(z)
    if summary == "last":
        return np.asarray(z[:, -1, :], dtype=np.float64)
    if isinstance(summary, str) and summary.startswith("pca:"):
        summary = summary.split(":", 1)[1]
    try:
        p = int(summary)
    except (TypeError, ValueError):
        raise InvalidConfigError(
            f"summary must be 'window', 'last' or a number of principal components, got "
            f"{summary!r}") from None
    check_int("summary (principal components)", p, 1)
    flat = _as_2d(z)
    s = flat.std(axis=0)
    flat = (flat - flat.mean(axis=0)) / np.where(s > 0, s, 1.0)
    if p >= flat.shape[1]:
        return flat
    decomposition = optional_import("sklearn.decomposition", "forecast", purpose="PCA summary")
    return decomposition.PCA(n_components=p, random_state=0).fit_transform(flat)


def mmse_estimate(ds: AgeAwareDataset, *, k: int = 20, summary: str | int = "window",
                  method: str = "knn", bins: int = 20, y_scale: tuple[float, float] | None = None,
                  max_samples: int | None = None, seed: int = 0, debias: bool = True) -> float:
    """Estimated minimum MSE of predicting ``ds.y`` from ``ds``'s inputs.

    Args:
        ds: the samples (one age vector, or several with ``age_input=True``).
        k: neighbours of the k-NN estimator.
        summary: what the estimate conditions on (see :func:`summarize`).
        method: ``"knn"`` or ``"binned"`` (needs a one-dimensional summary).
        bins: bins of the binned estimator.
        y_scale: ``(mean, std)`` to standardize the target with (e.g. the training part's,
            to compare with :mod:`.train` losses); default ``ds``'s own.
        max_samples: estimate on a seeded random subset of at most this many samples.
        seed: seeds that subset.
        debias: see :func:`knn_conditional_mse`.

    Returns:
        The estimate on the standardized target scale (1.0 = the target's variance).
    """
    if method not in ("knn", "binned"):
        raise InvalidConfigError(f"method must be 'knn' or 'binned', got {method!r}")
    if max_samples is not None and len(ds) > check_int("max_samples", max_samples, 1):
        rng = np.random.default_rng([seed, 3])
        ds = ds.subset(np.sort(rng.choice(len(ds), max_samples, replace=False)))
    mean, std = y_scale if y_scale is not None else (float(ds.y.mean()), float(ds.y.std()))
    y = (np.asarray(ds.y, dtype=np.float64) - mean) / (std if std > 0 else 1.0)
    x = summarize(ds, summary)
    if method == "binned":
        return binned_conditional_mse(x, y, bins=bins)
    return knn_conditional_mse(x, y, k=k, debias=debias)


@dataclass(frozen=True)
class MarkovGap:
    """How much the next-older value adds, on the standardized target scale.

    ``mmse_markov``: estimate given the window ending at ``t - Delta``; ``mmse_extra``: given
    that window plus one older row; ``gap = mmse_markov - mmse_extra`` (about 0 for a Markov
    chain, up to estimator bias); ``gap_sd``: its standard deviation over subsamples;
    ``relative``: ``gap / mmse_markov``.
    """

    ages: dict[str, int]
    window: int
    mmse_markov: float
    mmse_extra: float
    gap: float
    gap_sd: float
    relative: float
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def markov_gap(df: Any, target: str, features: Sequence[str] | str,
               ages: int | Sequence[Any] | Mapping[str, Any], *, window: int = 1,
               k: int = 20, repeats: int = 10, fraction: float = 0.8, seed: int = 0,
               time: str | None = None, max_samples: int | None = 20000) -> MarkovGap:
    """Markov test: does ``X_{t-Delta-u}`` improve the forecast given ``X_{t-Delta}``'s window?

    Builds the samples of window ``u`` and ``u + 1`` at the same ages and target times and
    compares their k-NN MMSE estimates over ``repeats`` random subsamples (``fraction`` of the
    samples, without replacement: a bootstrap with repeats would let the leave-one-out k-NN
    find copies of a point). Both estimates condition on the raw window (``u * F`` and
    ``(u + 1) * F`` dimensions), so keep ``u`` small; the larger dimension carries a slightly
    larger upward bias, which makes the gap conservative (biased towards 0 or below).

    Returns:
        A :class:`MarkovGap`.
    """
    check_int("repeats", repeats, 1)
    check_real("fraction", fraction, 0.0, 1.0, lo_open=True)
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    table = df if isinstance(df, TimeTable) else as_time_table(
        df, time=time, columns=list(dict.fromkeys([target, *features])))
    one = make_age_dataset(table, target, features, window, ages)
    two = make_age_dataset(table, target, features, window + 1, ages)
    common = np.intersect1d(one.times, two.times)
    one = one.subset(np.isin(one.times, common))
    two = two.subset(np.isin(two.times, common))
    rng = np.random.default_rng([seed, 5])
    n = len(common)
    if max_samples is not None:
        n = min(n, max_samples)
    m = max(k + 2, int(round(fraction * n)))
    mean, std = float(one.y.mean()), float(one.y.std())
    a_vals, b_vals = [], []
    for _ in range(repeats):
        pick = np.sort(rng.choice(len(common), size=min(m, len(common)), replace=False))
        a_vals.append(mmse_estimate(one.subset(pick), k=k, y_scale=(mean, std)))
        b_vals.append(mmse_estimate(two.subset(pick), k=k, y_scale=(mean, std)))
    a, b = np.asarray(a_vals), np.asarray(b_vals)
    gaps = a - b
    names = list(one.features)
    return MarkovGap(
        ages=dict(zip(names, one.ages[0].tolist(), strict=True)), window=window,
        mmse_markov=float(a.mean()), mmse_extra=float(b.mean()), gap=float(gaps.mean()),
        gap_sd=float(gaps.std(ddof=1)) if repeats > 1 else 0.0,
        relative=float(gaps.mean() / a.mean()) if a.mean() > 0 else float("nan"),
        samples=int(min(m, len(common))))

"""Age-aware data sets: pair a target ``y_t`` with each feature's window ending ``Delta_i``
steps before ``t``.

Paper: Shisher, Qin, Yang, Yan, Sun, "The Age of Correlated Features in Supervised Learning
based Forecasting", IEEE INFOCOM AoI Workshop 2021 (arXiv 2103.00092). A feature ``i`` with
age ``Delta_i`` and window length ``u`` contributes the values at times
``t - Delta_i - u + 1, ..., t - Delta_i`` to the sample whose target is ``y_t``: the freshest
value a forecaster holds is ``Delta_i`` steps old.

Conventions:

* **Regular steps.** The table must be sampled on one regular grid: the step is the most common
  spacing of its timestamps, and every timestamp must lie on that grid (an off-grid timestamp
  is an error). Missing timestamps (gaps) are allowed: they are put back as NaN rows, so every
  age is an exact number of steps. Timestamps must be strictly increasing.
* **Ages** are whole steps (``int``) or time offsets (``pandas.Timedelta`` or a string such as
  ``"3h"``) that are whole multiples of the step. An age of 0 is allowed for a feature that is
  not the target (the feature's window then ends at ``t``); a target used as its own feature
  needs age >= 1, or it would leak the label.
* **NaN policy** (:data:`NAN_POLICY`): a sample whose target is NaN, or whose window touches a
  NaN in any feature, is dropped -- no filling, no interpolation. ``dropped`` counts them, and
  ``dropped_by`` says per column how many candidate samples that column alone would have
  cost (a sample can count under several columns).
* **Ages as inputs.** With ``age_input=True`` each feature's age, divided by ``age_scale``
  (default: the largest age in the data set, so values lie in [0, 1]), is appended as one more
  channel constant along the window: inputs are ``(n, u, 2F)``.

Everything is vectorized index arithmetic on one ``(T, F)`` array (no Python loop per sample).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .._imports import optional_import
from ..exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

__all__ = [
    "NAN_POLICY",
    "AgeAwareDataset",
    "DatasetSplit",
    "TimeTable",
    "as_time_table",
    "make_age_dataset",
    "make_joint_dataset",
    "split_boundaries",
]

#: How missing values are handled (also in ``AgeAwareDataset.nan_policy``).
NAN_POLICY = (
    "a sample is dropped when its target is NaN or any value of any feature window it uses is "
    "NaN (gaps in the timestamps count as NaN rows); nothing is filled or interpolated; "
    "'dropped' counts the dropped samples and 'dropped_by' per column the samples that column "
    "touches with a NaN"
)


def _pd() -> Any:
    return optional_import("pandas", "forecast", purpose="carbide.forecasting")


@dataclass(frozen=True, eq=False)
class TimeTable:
    """A validated table on a regular grid: ``values`` (T, C) float64 for ``columns``.

    Built by :func:`as_time_table`; gaps in the source timestamps are NaN rows here.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    times: pd.DatetimeIndex
    step: pd.Timedelta
    gaps: int

    def column(self, name: str) -> int:
        return self.columns.index(name)

    def __len__(self) -> int:
        return len(self.times)


def as_time_table(df: pd.DataFrame, *, time: str | None = None,
                  columns: Sequence[str] | None = None) -> TimeTable:
    """Check ``df``'s timestamps and put the wanted ``columns`` on their regular grid.

    Args:
        df: a DataFrame with a DatetimeIndex, or with a time column named by ``time``.
        time: the column holding timestamps (parsed with ``pandas.to_datetime``); default:
            use the index.
        columns: the columns to keep (default: all numeric columns).

    Raises:
        InvalidConfigError: not a DataFrame; no usable timestamps; NaT, duplicate or
            non-increasing timestamps; a timestamp off the regular grid; unknown or
            non-numeric columns; fewer than 2 rows.
    """
    pd = _pd()
    import numpy as np

    if not isinstance(df, pd.DataFrame):
        raise InvalidConfigError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if time is not None:
        if time not in df.columns:
            raise InvalidConfigError(
                f"time column {time!r} not found; available columns: {list(df.columns)}")
        try:
            index = pd.DatetimeIndex(pd.to_datetime(df[time]))
        except (ValueError, TypeError) as exc:
            raise InvalidConfigError(
                f"time column {time!r} does not hold timestamps ({exc})") from exc
        df = df.drop(columns=[time])
    else:
        if not isinstance(df.index, pd.DatetimeIndex):
            raise InvalidConfigError(
                f"the DataFrame needs a DatetimeIndex (got {type(df.index).__name__}) or a "
                f"time column: pass time=<column> (columns: {list(df.columns)})")
        index = df.index
    if len(index) < 2:
        raise InvalidConfigError(f"the table has {len(index)} row(s); need at least 2")
    if index.isna().any():
        raise InvalidConfigError(
            f"missing (NaT) timestamp at row {int(np.flatnonzero(index.isna())[0])}")
    diffs = index[1:] - index[:-1]
    bad = np.flatnonzero(diffs <= pd.Timedelta(0))
    if bad.size:
        i = int(bad[0])
        kind = "duplicated" if diffs[i] == pd.Timedelta(0) else "non-increasing"
        raise InvalidConfigError(
            f"{kind} timestamps: {index[i]} (row {i}) is followed by {index[i + 1]} "
            f"(row {i + 1}); timestamps must be strictly increasing (sort and de-duplicate)")
    step = pd.Series(diffs).value_counts().index[0]
    off = ((index - index[0]) % step) != pd.Timedelta(0)
    if off.any():
        j = int(np.argmax(off))
        raise InvalidConfigError(
            f"irregular sampling: timestamp {index[j]} (row {j}) is not on the {step} grid "
            f"that starts at {index[0]}; ages are counted in steps, so resample to a regular "
            f"grid first (e.g. df.resample('{_alias(step)}').mean())")
    if columns is None:
        columns = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    columns = list(dict.fromkeys(columns))
    unknown = [c for c in columns if c not in df.columns]
    if unknown:
        raise InvalidConfigError(
            f"unknown column(s) {unknown}; available columns: {list(df.columns)}")
    for c in columns:
        if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])):
            raise InvalidConfigError(f"column {c!r} is not numeric (dtype {df[c].dtype})")
    frame = pd.DataFrame(df[columns].to_numpy(dtype=np.float64), index=index, columns=columns)
    grid = pd.date_range(index[0], index[-1], freq=step)
    gaps = len(grid) - len(index)
    if gaps:
        frame = frame.reindex(grid)
    return TimeTable(frame.to_numpy(dtype=np.float64), tuple(columns), grid, step, gaps)


def _alias(step: Any) -> str:
    from pandas.tseries.frequencies import to_offset

    return to_offset(step).freqstr


def _steps(name: str, value: Any, step: Any, what: str) -> int:
    """An age or window given in steps (int) or as a time offset -> whole steps."""
    pd = _pd()
    if isinstance(value, bool):
        raise InvalidConfigError(f"{what} of {name!r} must be an integer or a time offset, "
                                 f"got {value!r}")
    if isinstance(value, (int,)) or (hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0
                                     and str(getattr(value, "dtype", "")).startswith("int")):
        return int(value)
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise InvalidConfigError(
            f"{what} of {name!r} must be whole steps (int) or a time offset such as '3h', "
            f"got {value!r}") from None
    if td % step != pd.Timedelta(0):
        raise InvalidConfigError(
            f"{what} of {name!r} is {value!r}, not a whole multiple of the table's step "
            f"{step}")
    return int(td // step)


def _age_vector(ages: Any, features: Sequence[str], step: Any) -> np.ndarray:
    import numpy as np

    if isinstance(ages, Mapping):
        unknown = [k for k in ages if k not in features]
        missing = [f for f in features if f not in ages]
        if unknown or missing:
            raise InvalidConfigError(
                f"ages must give one age per feature {list(features)}: "
                + (f"unknown {unknown} " if unknown else "")
                + (f"missing {missing}" if missing else ""))
        vec = [_steps(f, ages[f], step, "age") for f in features]
    elif isinstance(ages, (list, tuple)) or (hasattr(ages, "ndim") and ages.ndim == 1):
        if len(ages) != len(features):
            raise InvalidConfigError(
                f"{len(ages)} ages {list(ages)} for {len(features)} features "
                f"{list(features)}; give one per feature")
        vec = [_steps(f, a, step, "age") for f, a in zip(features, ages, strict=True)]
    else:
        vec = [_steps(f, ages, step, "age") for f in features]
    for f, a in zip(features, vec, strict=True):
        if a < 0:
            raise InvalidConfigError(f"age of feature {f!r} must be >= 0, got {a}")
    return np.asarray(vec, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class AgeAwareDataset:
    """Samples ``(X, y)`` whose features are stale by known ages.

    Attributes:
        X: float32 ``(n, u, F)``: ``X[s, k, i]`` is feature ``i`` at time
            ``times[s] - (ages[s, i] + u - 1 - k) * step``; the last row ``k = u - 1`` is
            ``Delta_i`` steps before the target.
        y: float32 ``(n,)``, the target at ``times[s]``.
        times: ``(n,)`` datetime64 target times.
        ages: int64 ``(n, F)``, each sample's age vector in steps.
        features, target, window (u), step: what was asked for.
        age_input: whether :attr:`inputs` appends the ages as channels.
        age_scale: ages are divided by this before being appended.
        dropped: samples dropped by :data:`NAN_POLICY`; ``dropped_by``: column -> count;
            ``candidates``: samples before dropping.
        span: first and last timestamp of the source table (fixes split boundaries).
    """

    X: np.ndarray
    y: np.ndarray
    times: np.ndarray
    ages: np.ndarray
    features: tuple[str, ...]
    target: str
    window: int
    step: Any
    age_input: bool = False
    age_scale: float = 1.0
    dropped: int = 0
    dropped_by: dict[str, int] = field(default_factory=dict)
    candidates: int = 0
    span: tuple[Any, Any] | None = None
    nan_policy: str = NAN_POLICY

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_inputs(self) -> int:
        """Channels per window row: ``F``, or ``2F`` with the ages appended."""
        return len(self.features) * (2 if self.age_input else 1)

    @property
    def inputs(self) -> np.ndarray:
        """float32 ``(n, u, F)``, or ``(n, u, 2F)`` with ``age / age_scale`` appended."""
        import numpy as np

        if not self.age_input:
            return self.X
        a = (self.ages / self.age_scale).astype(np.float32)
        a = np.broadcast_to(a[:, None, :], (len(self.y), self.window, a.shape[1]))
        return np.concatenate([self.X, a], axis=2)

    @property
    def age_vectors(self) -> list[tuple[int, ...]]:
        """The distinct age vectors present, sorted."""
        import numpy as np

        return [tuple(int(v) for v in row) for row in np.unique(self.ages, axis=0)]

    def with_age_input(self, on: bool = True, age_scale: float | None = None) -> AgeAwareDataset:
        return replace(self, age_input=on,
                       age_scale=self.age_scale if age_scale is None else float(age_scale))

    def subset(self, mask: np.ndarray) -> AgeAwareDataset:
        """The samples where the boolean or index ``mask`` selects."""
        return replace(self, X=self.X[mask], y=self.y[mask], times=self.times[mask],
                       ages=self.ages[mask])

    def for_ages(self, ages: Sequence[int]) -> AgeAwareDataset:
        """The samples with age vector ``ages`` (in steps)."""
        import numpy as np

        return self.subset(np.all(self.ages == np.asarray(ages)[None, :], axis=1))

    def earliest(self) -> np.ndarray:
        """``(n,)`` the time of each sample's oldest input value."""
        back = (self.ages.max(axis=1) + self.window - 1).astype("int64")
        return self.times - back * _pd().Timedelta(self.step).to_timedelta64()

    def split(self, fractions: tuple[float, float] = (0.7, 0.15),
              boundaries: tuple[Any, Any] | None = None) -> DatasetSplit:
        """Chronological train/val/test split with no leakage across a boundary.

        The source table's time span is cut at fixed times (``fractions`` of the span, or
        explicit ``boundaries`` ``(b1, b2)``), the same for every data set built from the same
        table whatever its ages. A sample belongs to a part only if its target time *and* its
        oldest input value lie in that part; samples whose window straddles a boundary are
        purged (``DatasetSplit.purged``), so no value seen in training (as target or input)
        is an input or target of a later part.
        """
        import numpy as np

        if boundaries is None:
            b1, b2 = split_boundaries(self.span, fractions)
        else:
            b1, b2 = (_naive(_pd().Timestamp(b)) for b in boundaries)
        t = _pd().DatetimeIndex(self.times)
        first = _pd().DatetimeIndex(self.earliest())
        tr = np.asarray(t < b1)
        va = np.asarray((first >= b1) & (t < b2))
        te = np.asarray(first >= b2)
        purged = int(len(self) - tr.sum() - va.sum() - te.sum())
        return DatasetSplit(self.subset(tr), self.subset(va), self.subset(te), purged,
                            (b1, b2))

    @staticmethod
    def concat(parts: Sequence[AgeAwareDataset]) -> AgeAwareDataset:
        """Stack data sets of the same table, features and window (ages may differ)."""
        import numpy as np

        if not parts:
            raise InvalidConfigError("nothing to concatenate: no data sets given")
        first = parts[0]
        for p in parts[1:]:
            if (p.features, p.target, p.window) != (first.features, first.target, first.window):
                raise InvalidConfigError(
                    "data sets to pool must share features, target and window; got "
                    f"{(p.features, p.target, p.window)} and "
                    f"{(first.features, first.target, first.window)}")
        by: dict[str, int] = {}
        for p in parts:
            for k, v in p.dropped_by.items():
                by[k] = by.get(k, 0) + v
        return replace(
            first,
            X=np.concatenate([p.X for p in parts]), y=np.concatenate([p.y for p in parts]),
            times=np.concatenate([p.times for p in parts]),
            ages=np.concatenate([p.ages for p in parts]),
            age_scale=max(p.age_scale for p in parts),
            dropped=sum(p.dropped for p in parts), dropped_by=by,
            candidates=sum(p.candidates for p in parts))


@dataclass(frozen=True, eq=False)
class DatasetSplit:
    """Chronological parts of an :class:`AgeAwareDataset` (see ``AgeAwareDataset.split``)."""

    train: AgeAwareDataset
    val: AgeAwareDataset
    test: AgeAwareDataset
    purged: int
    boundaries: tuple[Any, Any]


def split_boundaries(span: tuple[Any, Any] | None,
                     fractions: tuple[float, float] = (0.7, 0.15)) -> tuple[Any, Any]:
    """The two cut times of a chronological split of ``span`` = (first, last) timestamp."""
    pd = _pd()
    if span is None:
        raise InvalidConfigError("the data set has no time span; pass boundaries=(b1, b2)")
    f_train, f_val = fractions
    if not (0 < f_train < 1 and 0 < f_val < 1 and f_train + f_val < 1):
        raise InvalidConfigError(
            f"split fractions (train, val) must be positive with sum < 1, got {fractions!r}")
    start, stop = pd.Timestamp(span[0]), pd.Timestamp(span[1])
    return start + (stop - start) * f_train, start + (stop - start) * (f_train + f_val)


def make_age_dataset(
    df: pd.DataFrame | TimeTable,
    target: str,
    features: Sequence[str] | str,
    window: int | str = 1,
    ages: int | str | Sequence[Any] | Mapping[str, Any] = 1,
    *,
    time: str | None = None,
    age_input: bool = False,
    age_scale: float | None = None,
    min_samples: int = 1,
) -> AgeAwareDataset:
    """Build the age-aware samples of one age vector.

    Args:
        df: the user's table: a DataFrame with a DatetimeIndex (or a ``time`` column), or a
            :class:`TimeTable` from :func:`as_time_table` (reuse it across many ages).
        target: the column to forecast.
        features: feature columns (a list, or one name or ``"a,b"``); the target may be one.
        window: window length ``u`` in steps (or a time offset such as ``"12h"``), >= 1.
        ages: one age for every feature, a sequence aligned with ``features``, or a mapping
            feature -> age; whole steps (int) or time offsets (``"3h"``), >= 0.
        time: the time column, if timestamps are not the index.
        age_input: append the ages as channels (see :attr:`AgeAwareDataset.inputs`).
        age_scale: divide appended ages by this (default: the largest age, at least 1).
        min_samples: raise if fewer samples than this survive the NaN policy.

    Returns:
        An :class:`AgeAwareDataset` with ``n`` samples, one per target time ``t`` with
        ``t - max(Delta) - u + 1 >= 0`` that survives :data:`NAN_POLICY`.

    Raises:
        InvalidConfigError: unknown columns (named, with the available ones); an all-NaN
            target or feature; an age or window that is negative, not a whole number of
            steps, or so long that no sample fits in the series; the target as its own
            feature at age 0; fewer than ``min_samples`` samples; any timestamp problem of
            :func:`as_time_table`.
    """
    import numpy as np

    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    features = list(features)
    if not features:
        raise InvalidConfigError("give at least one feature column")
    if len(set(features)) != len(features):
        raise InvalidConfigError(f"features {features} list a column twice")
    wanted = list(dict.fromkeys([target, *features]))
    if isinstance(df, TimeTable):
        unknown = [c for c in wanted if c not in df.columns]
        if unknown:
            raise InvalidConfigError(
                f"unknown column(s) {unknown}; available columns: {list(df.columns)}")
        table = df
    else:
        table = as_time_table(df, time=time, columns=wanted)
    T = len(table)
    u = _steps("window", window, table.step, "length")
    if u < 1:
        raise InvalidConfigError(f"window must be >= 1 step, got {u}")
    age = _age_vector(ages, features, table.step)
    if target in features and age[features.index(target)] == 0:
        raise InvalidConfigError(
            f"feature {target!r} is the target; at age 0 its window would contain the label "
            f"itself: give it an age >= 1")
    cols = [table.column(c) for c in features]
    tcol = table.column(target)
    for name, c in [(target, tcol), *zip(features, cols, strict=True)]:
        if np.isnan(table.values[:, c]).all():
            raise InvalidConfigError(f"column {name!r} is all NaN; drop it or pick another")
    back = int(age.max()) + u - 1  # a target at t needs rows t - back .. t
    if back >= T:
        worst = features[int(age.argmax())]
        raise InvalidConfigError(
            f"age {int(age.max())} of feature {worst!r} plus window {u} needs {back + 1} rows "
            f"of history, but the series has {T} rows ({table.times[0]} .. "
            f"{table.times[-1]}, step {table.step}); use a smaller age or window")
    t = np.arange(back, T)
    # rows[s, k, i] = t_s - age_i - (u - 1 - k): vectorized window/age arithmetic
    offs = np.arange(u - 1, -1, -1)[None, :, None] + age[None, None, :]
    rows = t[:, None, None] - offs
    X = table.values[rows, np.asarray(cols)[None, None, :]]
    y = table.values[t, tcol]
    bad_x = np.isnan(X).any(axis=1)  # (n, F)
    bad_y = np.isnan(y)
    keep = ~(bad_x.any(axis=1) | bad_y)
    dropped_by = {target: int(bad_y.sum())}
    for f, b in zip(features, bad_x.T, strict=True):
        dropped_by[f] = int(b.sum())
    if target in features:  # the target's NaNs as label or as input: one count
        dropped_by[target] = int((bad_y | bad_x[:, features.index(target)]).sum())
    n = int(keep.sum())
    if n < max(1, min_samples):
        raise InvalidConfigError(
            f"only {n} sample(s) survive the NaN policy at ages "
            f"{dict(zip(features, age.tolist(), strict=True))}, window {u} (need "
            f"{max(1, min_samples)}); NaN-touched samples per column: {dropped_by}")
    scale = float(age_scale) if age_scale is not None else float(max(1, int(age.max())))
    if scale <= 0:
        raise InvalidConfigError(f"age_scale must be > 0, got {age_scale!r}")
    return AgeAwareDataset(
        X=X[keep].astype(np.float32), y=y[keep].astype(np.float32),
        times=_naive_index(table.times[t[keep]]),
        ages=np.repeat(age[None, :], n, axis=0),
        features=tuple(features), target=target, window=u, step=table.step,
        age_input=age_input, age_scale=scale, dropped=int((~keep).sum()),
        dropped_by=dropped_by, candidates=len(t),
        span=(_naive(table.times[0]), _naive(table.times[-1])),
    )


def _naive_index(index: Any) -> np.ndarray:
    import numpy as np

    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return np.asarray(index, dtype="datetime64[ns]")


def _naive(ts: Any) -> Any:
    """Timestamps are compared tz-naive (UTC for tz-aware tables) inside data sets."""
    return ts.tz_convert("UTC").tz_localize(None) if ts.tz is not None else ts


def make_joint_dataset(
    df: pd.DataFrame | TimeTable,
    target: str,
    features: Sequence[str] | str,
    window: int | str,
    age_vectors: Sequence[Any],
    *,
    time: str | None = None,
    age_input: bool = True,
    mode: str = "all",
    weights: Sequence[float] | None = None,
    seed: int = 0,
    min_samples: int = 1,
) -> AgeAwareDataset:
    """Pool the samples of several age vectors into one data set (the paper's joint training).

    Args:
        df, target, features, window, time: as in :func:`make_age_dataset`.
        age_vectors: the ages to pool: each item is anything ``ages`` of
            :func:`make_age_dataset` takes (an int applies to every feature).
        age_input: append the ages as inputs (scaled by the largest age over all vectors).
        mode: ``"all"`` keeps every (target time, age vector) pair (``K`` times the samples);
            ``"sample"`` draws one age vector per target time from the distribution
            ``weights`` (default uniform), as when ages arrive at random.
        weights: probabilities of the age vectors for ``mode="sample"``.
        seed: seeds the draw of ``mode="sample"``.

    Returns:
        One :class:`AgeAwareDataset` (``ages`` differ per sample).
    """
    import numpy as np

    if not len(age_vectors):
        raise InvalidConfigError("age_vectors is empty: give at least one age vector")
    if mode not in ("all", "sample"):
        raise InvalidConfigError(f"mode must be 'all' or 'sample', got {mode!r}")
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    table = df if isinstance(df, TimeTable) else as_time_table(
        df, time=time, columns=list(dict.fromkeys([target, *features])))
    vecs = [_age_vector(a, list(features), table.step) for a in age_vectors]
    scale = float(max(1, max(int(v.max()) for v in vecs)))
    parts = [make_age_dataset(table, target, features, window, v, age_input=age_input,
                              age_scale=scale) for v in vecs]
    if mode == "sample":
        k = len(parts)
        if weights is None:
            p = np.full(k, 1.0 / k)
        else:
            p = np.asarray(weights, dtype=np.float64)
            if p.shape != (k,) or (p < 0).any() or p.sum() <= 0:
                raise InvalidConfigError(
                    f"weights must be {k} non-negative numbers with a positive sum, got "
                    f"{list(weights)}")
            p = p / p.sum()
        all_times = np.unique(np.concatenate([q.times for q in parts]))
        pick = np.random.default_rng(seed).choice(k, size=len(all_times), p=p)
        chosen = []
        for j, q in enumerate(parts):
            mine = all_times[pick == j]
            chosen.append(q.subset(np.isin(q.times, mine)))
        parts = chosen
    joint = AgeAwareDataset.concat(parts)
    if len(joint) < max(1, min_samples):
        raise InvalidConfigError(
            f"only {len(joint)} pooled samples (need {min_samples})")
    return joint

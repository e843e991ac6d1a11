"""Measured PV power aligned with NSRDB PSM3 weather, for age-aware forecasting.

Sources (from the pvanalytics 0.2.2 wheel, MIT; NREL PVDAQ / NSRDB public data):

* ``system50``: PVDAQ system 50 AC power, ``<root>/pv/system_50_ac_power_2_full_DST.parquet``
  (``measured_on`` with a fixed UTC-07:00 offset, ``ac_power_2``; every 15 min from
  2011-04-15 to 2013-12-31), and PSM3 weather ``system_50_ac_power_2_full_DST_psm3.parquet``
  (every 30 min from 2011-01-01: ``temp_air``, ``ghi``, ``ghi_clear``, ``dni_clear``,
  ``dhi_clear`` and calendar columns). Despite the fixed offset, the power timestamps follow
  local clock time with daylight saving (pvanalytics ships this file to show DST-shift
  detection): from the second Sunday of March to the first Sunday of November the power
  curve sits about one hour later relative to the weather. carbide keeps it as published.
* ``serf-east``: NREL SERF East AC power ``<root>/pv/serf_east_15min_ac_power.csv`` and PSM3
  weather ``serf_east_psm3_data.csv``, both every 15 min from 2016-07-01 to 2016-10-13. The
  weather looks like hourly PSM3 values (at half past) linearly interpolated to 15 min: its
  calendar columns are interpolated too (``Month`` 6.5, ``Hour`` 0.25, ...).

Both are returned by :func:`load_pv` as one regular, time-indexed frame built by
:func:`align_pv`. pandas and pyarrow come with ``pip install "carbide[forecast]"``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._imports import optional_import
from ..exceptions import DatasetCorruptError, InvalidConfigError
from ._root import dataset_files, get_info

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["NAN_POLICY", "PV_SITES", "align_pv", "load_pv",]

#: How :func:`align_pv` treats missing data (also stored in ``df.attrs["nan_policy"]``).
NAN_POLICY = (
    "each source is first put on its own regular grid (absent timestamps become NaN); a bin "
    "[t, t + freq) labelled by its start t is the mean of that column's samples in it, and NaN "
    "if ANY of them is missing (no partial means, no filling, no interpolation); "
    "clearsky_index = ghi / ghi_clear of the binned values, NaN where ghi_clear <= 0 or either "
    "is NaN; NaNs are kept and counted per column in attrs['nan_counts']"
)

_CALENDAR = ("Year", "Month", "Day", "Hour", "Minute")
_WEATHER = ("temp_air", "ghi", "ghi_clear", "dni_clear", "dhi_clear")


@dataclass(frozen=True)
class _Site:
    dataset: str
    power: str
    power_column: str
    power_time: str
    weather: str
    weather_time: str


_SITES = {
    "system50": _Site(
        "pv-system50",
        "pv/system_50_ac_power_2_full_DST.parquet", "ac_power_2", "measured_on",
        "pv/system_50_ac_power_2_full_DST_psm3.parquet", "index",
    ),
    "serf-east": _Site(
        "serf-east",
        "pv/serf_east_15min_ac_power.csv", "ac_power", "measured_on",
        "pv/serf_east_psm3_data.csv", "measured_on",
    ),
}
#: Sites :func:`load_pv` knows.
PV_SITES: tuple[str, ...] = tuple(_SITES)


def _pandas() -> Any:
    return optional_import("pandas", "forecast", purpose="carbide.datasets.pv")


def _parse_freq(freq: Any) -> tuple[Any, str]:
    """``freq`` -> (Timedelta, alias); fixed-length pandas offsets only."""
    pd = _pandas()
    from pandas.tseries.frequencies import to_offset

    hint = "a fixed-length pandas offset alias such as '30min', '1h', '3h' or '1D'"
    try:
        offset = to_offset(freq)
    except (ValueError, TypeError) as exc:
        raise InvalidConfigError(f"freq {freq!r} is not a pandas offset; use {hint}") from exc
    if not isinstance(offset, (pd.offsets.Tick, pd.offsets.Day)):
        raise InvalidConfigError(
            f"freq {freq!r} ({offset!r}) has no fixed length (months, weeks, business days); "
            f"use {hint}"
        )
    step = pd.Timedelta(offset)
    if step <= pd.Timedelta(0):
        raise InvalidConfigError(f"freq {freq!r} must be positive; use {hint}")
    return step, offset.freqstr


def _fmt(td: Any) -> str:
    from pandas.tseries.frequencies import to_offset

    return to_offset(td).freqstr


def _regular(frame: Any, label: str, error: type[Exception]) -> tuple[Any, Any]:
    """Check a source's index and put it on its regular grid: (frame float64, step)."""
    pd = _pandas()
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise error(f"{label}: timestamps must be tz-aware (got {type(index).__name__}, "
                    f"tz={getattr(index, 'tz', None)})")
    if len(index) < 2:
        raise error(f"{label}: needs at least 2 timestamps, got {len(index)}")
    if index.isna().any():
        raise error(f"{label}: has missing (NaT) timestamps")
    diffs = index[1:] - index[:-1]
    bad = (diffs <= pd.Timedelta(0)).nonzero()[0]
    if bad.size:
        i = int(bad[0])
        kind = "duplicate" if diffs[i] == pd.Timedelta(0) else "non-increasing"
        raise error(
            f"{label}: {kind} timestamps: {index[i]} is followed by {index[i + 1]} "
            f"(row {i + 1}); timestamps must be strictly increasing"
        )
    # the most common spacing: a few gaps must not change it, a stray timestamp must not
    # shrink it (both are then caught below or become NaN rows)
    step = pd.Series(diffs).value_counts().index[0]
    offsets = index - index[0]
    off_grid = (offsets % step) != pd.Timedelta(0)
    if off_grid.any():
        raise error(
            f"{label}: timestamp {index[off_grid.argmax()]} is not on the {_fmt(step)} grid "
            f"starting at {index[0]}"
        )
    grid = pd.date_range(index[0], index[-1], freq=step)
    try:
        values = frame.astype("float64")
    except (ValueError, TypeError) as exc:
        raise error(f"{label}: columns must be numeric ({exc})") from exc
    return values.reindex(grid), step


def _bin(frame: Any, start: Any, stop: Any, step: Any, freq: Any) -> Any:
    """Strict bin means of ``frame`` (regular at ``step``) over ``[start, stop)``."""
    part = frame.loc[(frame.index >= start) & (frame.index < stop)]
    resampler = part.resample(freq, origin=start, closed="left", label="left")
    means = resampler.mean()
    counts = resampler.count()
    return means.where(counts >= freq // step)


def align_pv(
    power: pd.Series | pd.DataFrame,
    weather: pd.DataFrame,
    freq: str = "1h",
    *,
    tz: str | None = None,
) -> pd.DataFrame:
    """Resample power and weather onto one regular grid and join them (inner, on time).

    Policy (:data:`NAN_POLICY`): each source is first reindexed onto its own regular grid
    (its most common timestamp step; every timestamp must lie on it), so absent timestamps
    count as missing. A bin ``[t, t + freq)`` is labelled by its start ``t`` and holds the
    mean of the column's samples in it, or NaN if any sample of that column in the bin is
    missing: no partial means and no filling. Bins start at midnight of the first overlapping
    day (in the power's offset) and only bins lying wholly inside the time range covered by
    both sources are kept, so every kept bin has all its sub-samples on both grids.

    Args:
        power: AC power as a Series (or one-column DataFrame) with a tz-aware DatetimeIndex.
        weather: weather columns (numeric) with a tz-aware DatetimeIndex; used as given (drop
            calendar columns beforehand).
        freq: output step, a fixed-length pandas offset alias (``"30min"``, ``"1h"``, ...): a
            whole multiple of both sources' steps.
        tz: convert the output index to this time zone (default: keep the power's offset).

    Returns:
        A DataFrame indexed by ``"time"`` (tz-aware, strictly increasing, regular at
        ``freq``), columns ``"ac_power"``, then the weather columns, then
        ``"clearsky_index"`` (``ghi / ghi_clear`` of the binned values where ``ghi_clear > 0``,
        else NaN; only when both columns exist); all float64. ``attrs`` holds ``nan_counts``
        (column -> NaN count), ``nan_policy``, ``freq``.

    Raises:
        InvalidConfigError: bad ``freq`` or ``tz``, a ``freq`` finer than the data or not a
            multiple of its steps; inputs without tz-aware, strictly increasing, regular
            timestamps; no complete bin in the overlap.
    """
    return _align(power, weather, freq, tz, InvalidConfigError, ("power", "weather"))


def _align(
    power: Any, weather: Any, freq: Any, tz: str | None, error: type[Exception],
    labels: tuple[str, str],
) -> Any:
    """:func:`align_pv` with the error type for bad data and the sources' names as arguments
    (file loaders report bad timestamps as :class:`DatasetCorruptError` naming the file)."""
    import numpy as np

    pd = _pandas()
    step_out, alias = _parse_freq(freq)
    if isinstance(power, pd.DataFrame):
        if power.shape[1] != 1:
            raise error(f"{labels[0]}: expected one power column, got {list(power.columns)}")
        power = power.iloc[:, 0]
    if not isinstance(power, pd.Series) or not isinstance(weather, pd.DataFrame):
        raise error("power must be a pandas Series and weather a pandas DataFrame")
    if "ac_power" in weather.columns or "clearsky_index" in weather.columns:
        raise error(f"{labels[1]}: weather must not have an 'ac_power' or 'clearsky_index' column")
    power_frame, power_step = _regular(power.rename("ac_power").to_frame(), labels[0], error)
    weather_frame, weather_step = _regular(weather, labels[1], error)
    weather_frame = weather_frame.tz_convert(power_frame.index.tz)

    if step_out % power_step or step_out % weather_step:
        unit = pd.Timedelta(int(np.lcm(power_step.value, weather_step.value)), unit="ns")
        finer = "finer than" if step_out < unit else "not a multiple of"
        raise InvalidConfigError(
            f"freq {freq!r} is {finer} the data ({labels[0]} every {_fmt(power_step)}, "
            f"{labels[1]} every {_fmt(weather_step)}); choose a whole multiple of "
            f"{_fmt(unit)!r}, e.g. {_fmt(unit)!r} or {_fmt(unit * 2)!r}"
        )

    start = max(power_frame.index[0], weather_frame.index[0])
    stop = min(power_frame.index[-1] + power_step, weather_frame.index[-1] + weather_step)
    origin = start.normalize()
    first = origin + -((origin - start) // step_out) * step_out  # first bin start >= start
    n_bins = (stop - first) // step_out if stop > first else 0
    if n_bins < 1:
        raise InvalidConfigError(
            f"no complete {alias} bin where {labels[0]} ({power_frame.index[0]} .. "
            f"{power_frame.index[-1]}) and {labels[1]} ({weather_frame.index[0]} .. "
            f"{weather_frame.index[-1]}) overlap"
        )
    last_stop = first + n_bins * step_out
    bins = pd.date_range(first, periods=n_bins, freq=step_out, name="time")
    parts = [
        _bin(frame, first, last_stop, step, step_out).reindex(bins)
        for frame, step in ((power_frame, power_step), (weather_frame, weather_step))
    ]
    df = pd.concat(parts, axis=1)
    if "ghi" in df.columns and "ghi_clear" in df.columns:
        clear = df["ghi_clear"]
        df["clearsky_index"] = (df["ghi"] / clear.where(clear > 0)).astype("float64")
    df.index = bins
    if tz is not None:
        try:
            df.index = df.index.tz_convert(tz)
        except Exception as exc:  # pytz / zoneinfo raise different types for unknown zones
            raise InvalidConfigError(
                f"tz {tz!r} is not a time zone pandas knows (e.g. 'UTC', 'America/Denver', "
                f"'Etc/GMT+7')"
            ) from exc
    df.attrs["nan_counts"] = {c: int(n) for c, n in df.isna().sum().items()}
    df.attrs["nan_policy"] = NAN_POLICY
    df.attrs["freq"] = alias
    return df


def _read_table(path: Path, time_column: str, columns: tuple[str, ...], source: str) -> Any:
    """Read a parquet/csv source, index it by ``time_column``; errors name the file."""
    pd = _pandas()
    if path.suffix == ".parquet":
        optional_import("pyarrow", "forecast", purpose="reading parquet PV data")
    try:
        raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # pyarrow and the csv parser raise many types on bad files
        raise DatasetCorruptError(
            f"cannot read {path} ({type(exc).__name__}: {exc}); fetch it again from {source}"
        ) from exc
    missing = [c for c in (time_column, *columns) if c not in raw.columns]
    if missing:
        raise DatasetCorruptError(
            f"{path} lacks column(s) {missing}; it has {list(raw.columns)}"
        )
    times = raw[time_column]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        try:
            times = pd.to_datetime(times, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise DatasetCorruptError(
                f"{path}: column {time_column!r} does not hold ISO timestamps with one UTC "
                f"offset ({exc})"
            ) from exc
    frame = raw.drop(columns=[time_column])
    frame.index = pd.DatetimeIndex(times)
    return frame


def load_pv(
    site: str = "system50",
    freq: str = "1h",
    root: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
    tz: str | None = None,
) -> pd.DataFrame:
    """Load one PV site's AC power and PSM3 weather as an aligned, regular time series.

    Args:
        site: ``"system50"`` (PVDAQ system 50, 2011-04-15 .. 2013-12-31; power every 15 min,
            weather every 30 min) or ``"serf-east"`` (2016-07-01 .. 2016-10-13 03:45, both
            every 15 min; its weather and calendar columns look interpolated from hourly).
        freq: output step, a fixed-length pandas offset alias; at least the coarsest source
            step (30 min for system50, 15 min for serf-east) and a multiple of it.
        root: data root (``root`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``).
        verify: check the files' SHA-256 sums against the packaged manifest first.
        tz: convert the index to this zone (default: keep the data's fixed UTC-07:00 offset).

    Returns:
        A DataFrame (see :func:`align_pv` for the resampling and NaN policy) with a
        DatetimeIndex ``"time"``: tz-aware, strictly increasing, regular at ``freq``, bins
        labelled by their start, only the time range both sources cover; float64 columns
        ``ac_power`` (W; the power column renamed; serf-east reads slightly negative at night,
        kept as measured), ``temp_air`` (C), ``ghi``, ``ghi_clear``, ``dni_clear``,
        ``dhi_clear`` (W/m2) and ``clearsky_index`` (``ghi / ghi_clear`` where ``ghi_clear >
        0``, else NaN: NaN every night). The calendar columns Year..Minute are dropped (they
        follow from the index). ``attrs``: ``nan_counts`` (column -> NaN count), ``nan_policy``,
        ``freq``, ``site``, ``source`` (the two files).

        Pinned for ``freq="1h"``: system50 has 23,808 rows from 2011-04-15 00:00 to
        2013-12-31 23:00 (-07:00); serf-east 2,500 rows from 2016-07-01 00:00 to
        2016-10-13 03:00.

    Raises:
        InvalidConfigError: unknown ``site``, bad ``freq`` (not a fixed-length pandas offset,
            finer than the data, not a multiple of its step, or longer than the data's span)
            or bad ``tz``.
        DatasetNotFoundError: a file is missing (the message names it and the source).
        DatasetCorruptError: a file fails its checksum or cannot be parsed, lacks a column, or
            has duplicate, non-increasing or off-grid timestamps.
    """
    if site not in _SITES:
        raise InvalidConfigError(f"unknown PV site {site!r}; choose one of: {', '.join(_SITES)}")
    _parse_freq(freq)  # fail on a bad alias before touching files
    spec = _SITES[site]
    files = dataset_files(spec.dataset, root, verify=verify)
    power_path, weather_path = files[spec.power], files[spec.weather]
    source = get_info(spec.dataset).source
    power = _read_table(power_path, spec.power_time, (spec.power_column,), source)
    power = power[spec.power_column]
    weather = _read_table(weather_path, spec.weather_time, _WEATHER, source)
    extra = [c for c in weather.columns if c not in _WEATHER and c not in _CALENDAR]
    weather = weather[[*_WEATHER, *extra]]
    df = _align(
        power, weather, freq, tz, DatasetCorruptError, (str(power_path), str(weather_path))
    )
    df.attrs["site"] = site
    df.attrs["source"] = [str(power_path), str(weather_path)]
    return df

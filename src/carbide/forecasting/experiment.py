"""Loss-vs-age sweeps and the per-age / joint / joint-with-age comparison, as library calls.

``carbide aoi sweep`` and ``carbide aoi compare`` are thin wrappers over :func:`sweep` and
:func:`compare`; the reproduction calls them on the PV data. All MSEs are on the standardized
target scale of :mod:`.train` (1.0 = the training variance of the target).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._validate import check_int
from ..exceptions import InvalidConfigError
from ..results import progress
from .datasets import TimeTable, as_time_table, make_age_dataset, make_joint_dataset
from .mmse import mmse_estimate
from .train import TrainConfig, evaluate, evaluate_per_age, fit_model

__all__ = ["DATASETS", "CompareConfig", "SweepConfig", "age_vector", "compare",
           "load_dataset", "non_monotone_stretches", "parse_ages", "parse_features",
           "parse_offsets", "run_compare", "run_sweep", "sweep"]

#: Named data sets of :func:`load_dataset` (anything else is read as a CSV path).
DATASETS: tuple[str, ...] = ("pv-system50", "serf-east")


def parse_ages(text: str | Sequence[int] | int, option: str = "--ages") -> tuple[int, ...]:
    """``"1:48"`` (inclusive), ``"1:48:3"`` (step 3), ``"1,6,12"`` or a mix ``"1,3:9:3"``
    -> sorted unique ages in steps; ints and sequences pass through (validated, >= 0)."""
    if isinstance(text, int) and not isinstance(text, bool):
        items: list[int] = [text]
    elif not isinstance(text, str):
        items = [int(a) for a in text]
    else:
        items = []
        for part in text.split(","):
            part = part.strip()
            try:
                if ":" in part:
                    bits = [int(b) for b in part.split(":")]
                    if len(bits) not in (2, 3) or (len(bits) == 3 and bits[2] < 1):
                        raise ValueError
                    lo, hi, st = bits[0], bits[1], bits[2] if len(bits) == 3 else 1
                    if hi < lo:
                        raise ValueError
                    items += list(range(lo, hi + 1, st))
                else:
                    items.append(int(part))
            except ValueError:
                raise InvalidConfigError(
                    f"{option} takes integers, ranges LO:HI or LO:HI:STEP (inclusive, HI >= "
                    f"LO), comma-separated, e.g. 1:48 or 1,6,12 or 1:48:3; got {text!r}"
                ) from None
    if not items:
        raise InvalidConfigError(f"{option} is empty; e.g. 1:48")
    bad = [a for a in items if a < 0]
    if bad:
        raise InvalidConfigError(f"{option}: ages must be >= 0, got {bad}")
    return tuple(sorted(set(items)))


def parse_features(text: str | Sequence[str], option: str = "--features") -> tuple[str, ...]:
    """``"power,temp"`` -> ``("power", "temp")``; sequences pass through; empty is an error."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    feats = tuple(f.strip() for f in parts if f.strip())
    if not feats:
        raise InvalidConfigError(f"{option} takes comma-separated column names, got {text!r}")
    return feats


def parse_offsets(text: str | Mapping[str, int], option: str = "--offsets") -> dict[str, int]:
    """``"temp_air=6,ghi=3"`` -> ``{"temp_air": 6, "ghi": 3}`` (heterogeneous ages)."""
    if isinstance(text, Mapping):
        return {str(k): int(v) for k, v in text.items()}
    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = int(value)
        except ValueError:
            raise InvalidConfigError(
                f"{option} takes FEATURE=STEPS pairs such as temp_air=6,ghi=3; got "
                f"{text!r}") from None
    return out


def load_dataset(name: str, *, freq: str = "1h", time: str | None = None,
                 root: str | os.PathLike[str] | None = None) -> Any:
    """``"pv-system50"`` / ``"serf-east"`` (:func:`carbide.datasets.load_pv` at ``freq``) or
    a CSV path (timestamps in column ``time``, default ``"time"``, parsed by pandas)."""
    from ..datasets import load_pv

    if name == "pv-system50":
        return load_pv("system50", freq, root)
    if name == "serf-east":
        return load_pv("serf-east", freq, root)
    from .datasets import _pd

    pd = _pd()
    if not os.path.isfile(name):
        raise InvalidConfigError(
            f"dataset {name!r} is neither one of {', '.join(DATASETS)} nor a CSV file")
    try:
        df = pd.read_csv(name)
    except Exception as exc:  # the csv parser raises several types
        raise InvalidConfigError(f"cannot read CSV {name}: {exc}") from exc
    column = time or "time"
    if column not in df.columns:
        raise InvalidConfigError(
            f"CSV {name} has no time column {column!r} (pass --time-column); columns: "
            f"{list(df.columns)}")
    try:
        df[column] = pd.to_datetime(df[column])
    except (ValueError, TypeError) as exc:
        raise InvalidConfigError(
            f"CSV {name}: column {column!r} does not hold timestamps ({exc})") from exc
    return df.set_index(column)


def age_vector(features: Sequence[str], age: int, offsets: Mapping[str, int]) -> dict[str, int]:
    """Every feature at ``age`` plus its offset (heterogeneous ages)."""
    return {f: age + int(offsets.get(f, 0)) for f in features}


@dataclass(frozen=True)
class SweepConfig:
    """A loss-vs-age sweep: one model per (window, age).

    Args:
        target: target column.
        features: feature columns.
        ages: the swept age (steps); feature ``f`` gets ``age + offsets[f]``.
        windows: window lengths ``u`` (steps).
        offsets: per-feature extra age (steps, may be negative as long as ages stay >= 0):
            heterogeneous ages.
        train: how each model trains.
        split: chronological (train, val) fractions; the test part is the rest.
        mmse: also estimate the minimum MSE (k-NN) on each training part.
        mmse_k: neighbours of that estimate.
        mmse_summary: what it conditions on (``"window"``, ``"last"`` or PCA components).
        mmse_max_samples: subsample size of the estimate.
    """

    target: str
    features: tuple[str, ...]
    ages: tuple[int, ...]
    windows: tuple[int, ...] = (6, 12, 24)
    offsets: Mapping[str, int] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    split: tuple[float, float] = (0.7, 0.15)
    mmse: bool = True
    mmse_k: int = 20
    mmse_summary: str | int = "window"
    mmse_max_samples: int | None = 20000

    def __post_init__(self) -> None:
        if not self.features:
            raise InvalidConfigError("give at least one feature")
        unknown = [f for f in self.offsets if f not in self.features]
        if unknown:
            raise InvalidConfigError(
                f"offsets name {unknown}, which are not features {list(self.features)}")
        if not self.windows:
            raise InvalidConfigError("give at least one window length")
        for u in self.windows:
            check_int("window", u, 1)
        parse_ages(self.ages)
        check_int("mmse_k", self.mmse_k, 1)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["offsets"] = dict(self.offsets)
        return d


def _table(df: Any, target: str, features: Sequence[str]) -> TimeTable:
    if isinstance(df, TimeTable):
        return df
    return as_time_table(df, columns=list(dict.fromkeys([target, *features])))


def sweep(df: Any, cfg: SweepConfig, *, show_progress: bool = True,
          root_label: str = "sweep") -> list[dict[str, Any]]:
    """Train one model per (window, age); one row each.

    Rows: ``window, age, ages`` (the age vector), ``n_train, n_val, n_test, dropped, purged``,
    ``train_mse, val_mse, test_mse`` (best-validation weights, standardized scale),
    ``mmse_estimate`` (k-NN on the training part, same scale; NaN when ``cfg.mmse`` is off),
    ``best_epoch, epochs, fit_s``.
    """
    table = _table(df, cfg.target, cfg.features)
    rows = []
    jobs = [(u, a) for u in cfg.windows for a in cfg.ages]
    with progress() as bar:
        task = bar.add_task(root_label, total=len(jobs)) if show_progress else None
        for u, a in jobs:
            vec = age_vector(cfg.features, a, cfg.offsets)
            ds = make_age_dataset(table, cfg.target, list(cfg.features), u, vec)
            sp = ds.split(cfg.split)
            t0 = time.perf_counter()
            fit = fit_model(sp.train, sp.val, cfg.train)
            fit_s = time.perf_counter() - t0
            est = math.nan
            if cfg.mmse:
                est = mmse_estimate(sp.train, k=cfg.mmse_k, summary=cfg.mmse_summary,
                                    y_scale=(fit.scaler.y_mean, fit.scaler.y_std),
                                    max_samples=cfg.mmse_max_samples, seed=cfg.train.seed)
            rows.append({
                "window": u, "age": a, "ages": vec, "n_train": len(sp.train),
                "n_val": len(sp.val), "n_test": len(sp.test), "dropped": ds.dropped,
                "purged": sp.purged, "train_mse": fit.train_mse, "val_mse": fit.val_mse,
                "test_mse": evaluate(fit, sp.test), "mmse_estimate": est,
                "best_epoch": fit.best_epoch, "epochs": fit.epochs_run, "fit_s": fit_s,
            })
            if task is not None:
                bar.advance(task)
    return rows


@dataclass(frozen=True)
class CompareConfig:
    """Per-age models against one joint model without and one with the age as input.

    Args:
        target, features, offsets, train, split: as in :class:`SweepConfig`.
        ages: the age set pooled by the joint models (each also gets its own per-age model).
        window: window length ``u``.
        joint_mode: ``"all"`` (every target time at every age) or ``"sample"`` (one random
            age vector per target time) for the joint training set.
        joint_train: how the two joint networks train (default: ``train``); e.g. a wider
            network, so that one network holds about as many weights as the per-age ones.
    """

    target: str
    features: tuple[str, ...]
    ages: tuple[int, ...]
    window: int = 12
    offsets: Mapping[str, int] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    split: tuple[float, float] = (0.7, 0.15)
    joint_mode: str = "all"
    joint_train: TrainConfig | None = None

    def __post_init__(self) -> None:
        SweepConfig(self.target, self.features, self.ages, (self.window,), self.offsets,
                    self.train, self.split, mmse=False)
        if self.joint_mode not in ("all", "sample"):
            raise InvalidConfigError(
                f"joint_mode must be 'all' or 'sample', got {self.joint_mode!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["offsets"] = dict(self.offsets)
        return d


def compare(df: Any, cfg: CompareConfig, *, per_age_rows: Sequence[Mapping[str, Any]] | None = None,
            show_progress: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Per-age models vs joint (no age input) vs joint with age input, evaluated per age.

    The joint models train on the pooled training parts of every age in ``cfg.ages``
    (:func:`~.datasets.make_joint_dataset`) and are tested on each age's own test part, the
    same samples the per-age model of that age is tested on. ``per_age_rows`` (rows of
    :func:`sweep` at ``cfg.window``) reuses per-age results instead of training them again.

    Returns:
        ``(metrics, rows)``: rows per age with ``per_age_test_mse``, ``joint_test_mse``,
        ``joint_age_input_test_mse`` (and ``*_train_mse``); metrics hold their means over ages
        under the same names, plus ``networks`` (how many each approach trains).
    """
    table = _table(df, cfg.target, cfg.features)
    vecs = [age_vector(cfg.features, a, cfg.offsets) for a in cfg.ages]
    feats = list(cfg.features)
    rows: list[dict[str, Any]] = []
    reuse = {r["age"]: r for r in per_age_rows or () if r["window"] == cfg.window}
    with progress() as bar:
        todo = sum(a not in reuse for a in cfg.ages) + 2
        task = bar.add_task("compare", total=todo) if show_progress else None
        for a, vec in zip(cfg.ages, vecs, strict=True):
            if a in reuse:
                r = reuse[a]
                rows.append({"age": a, "ages": vec, "per_age_train_mse": r["train_mse"],
                             "per_age_test_mse": r["test_mse"], "n_test": r["n_test"]})
                continue
            sp = make_age_dataset(table, cfg.target, feats, cfg.window, vec).split(cfg.split)
            fit = fit_model(sp.train, sp.val, cfg.train)
            rows.append({"age": a, "ages": vec, "per_age_train_mse": fit.train_mse,
                         "per_age_test_mse": evaluate(fit, sp.test), "n_test": len(sp.test)})
            if task is not None:
                bar.advance(task)
        timing: dict[str, float] = {}
        params: dict[str, int] = {}
        for key, with_age in (("joint", False), ("joint_age_input", True)):
            joint = make_joint_dataset(table, cfg.target, feats, cfg.window, vecs,
                                       age_input=with_age, mode=cfg.joint_mode,
                                       seed=cfg.train.seed)
            sp = joint.split(cfg.split)
            t0 = time.perf_counter()
            fit = fit_model(sp.train, sp.val, cfg.joint_train or cfg.train)
            timing[key] = time.perf_counter() - t0
            params[key] = sum(p.numel() for p in fit.model.parameters())
            test = evaluate_per_age(fit, sp.test)
            train = evaluate_per_age(fit, sp.train)
            for row, vec in zip(rows, vecs, strict=True):
                key_vec = tuple(vec[f] for f in feats)
                row[f"{key}_test_mse"] = test.get(key_vec, math.nan)
                row[f"{key}_train_mse"] = train.get(key_vec, math.nan)
            if task is not None:
                bar.advance(task)

    def per_age_params() -> int:
        from .models import build_model

        one = build_model(cfg.train.model, len(feats), cfg.window, cfg.train.hidden,
                         cfg.train.layers)
        return len(cfg.ages) * sum(p.numel() for p in one.parameters())

    def mean(name: str) -> float:
        vals = [r[name] for r in rows if r[name] is not None and math.isfinite(r[name])]
        return float(np.mean(vals)) if vals else math.nan

    metrics = {
        "per_age_test_mse": mean("per_age_test_mse"),
        "joint_test_mse": mean("joint_test_mse"),
        "joint_age_input_test_mse": mean("joint_age_input_test_mse"),
        "per_age_train_mse": mean("per_age_train_mse"),
        "joint_train_mse": mean("joint_train_mse"),
        "joint_age_input_train_mse": mean("joint_age_input_train_mse"),
        "networks": {"per_age": len(cfg.ages), "joint": 1, "joint_age_input": 1},
        "parameters": {"per_age_total": per_age_params(), **params},
        "joint_fit_s": timing.get("joint"), "joint_age_input_fit_s": timing.get("joint_age_input"),
        "ages": list(cfg.ages), "window": cfg.window,
    }
    return metrics, rows


def non_monotone_stretches(ages: Sequence[int], values: Sequence[float], *,
                           tol: float = 0.0) -> list[dict[str, Any]]:
    """Stretches where a loss-vs-age curve *falls* as age grows by more than ``tol``.

    Each stretch runs from a local maximum to the next local minimum: ``peak_age``,
    ``peak_mse``, ``trough_age``, ``trough_mse``, ``drop``. ``ages`` must be increasing.
    """
    a = list(ages)
    v = [float(x) for x in values]
    if len(a) != len(v):
        raise InvalidConfigError(f"{len(a)} ages but {len(v)} values")
    out = []
    i = 0
    while i < len(v) - 1:
        if v[i + 1] < v[i]:
            j = i
            while j < len(v) - 1 and v[j + 1] <= v[j]:
                j += 1
            if v[i] - v[j] > tol:
                out.append({"peak_age": a[i], "peak_mse": v[i], "trough_age": a[j],
                            "trough_mse": v[j], "drop": v[i] - v[j]})
            i = j
        else:
            i += 1
    return out



_SWEEP_COLUMNS = ["window", "age", "n_train", "n_test", "dropped", "train_mse", "val_mse",
                  "test_mse", "mmse_estimate", "best_epoch"]


def run_sweep(cfg: SweepConfig, out: str | os.PathLike[str], *, dataset: str = "pv-system50",
              freq: str = "1h", time: str | None = None,
              root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """:func:`sweep` on a named data set or CSV, written as a run record into ``out``.

    ``metrics``: ``windows``, ``ages`` and ``non_monotone`` (the stretches where a curve falls
    by more than 0.02 as age grows); ``rows``: the sweep's rows; ``loss_vs_age.png``.
    """
    from ..results import Report, RunRecorder
    from ._figures import TOL, curves_figure, stretches_table

    df = load_dataset(dataset, freq=freq, time=time, root=root)
    recorder = RunRecorder(out, system="aoi", config={"dataset": dataset, "freq": freq,
                                                      **cfg.to_dict()})
    rows = sweep(df, cfg)
    stretches = stretches_table(rows)
    metrics = {"windows": list(cfg.windows), "ages": list(cfg.ages), "non_monotone": stretches}
    report = (Report(f"Loss vs age: {cfg.target} from {', '.join(cfg.features)} ({dataset})")
              .paragraph("MSEs on the standardized target scale (1 = the training variance). "
                         "mmse_estimate: leave-one-out k-NN estimate of the minimum MSE on the "
                         "training part (biased upwards; see carbide.forecasting.mmse).")
              .table(rows, _SWEEP_COLUMNS)
              .figure(curves_figure(rows, f"{cfg.target} from {','.join(cfg.features)}"),
                      "loss_vs_age.png", "loss vs age")
              .heading(f"Stretches where a curve falls by more than {TOL} as age grows")
              .table(stretches))
    return recorder.finish(metrics=metrics, rows=rows, report=report)


def run_compare(cfg: CompareConfig, out: str | os.PathLike[str], *,
                dataset: str = "pv-system50", freq: str = "1h", time: str | None = None,
                root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """:func:`compare` on a named data set or CSV, written as a run record into ``out``
    (metrics as :func:`compare` returns them; ``compare.png``)."""
    from ..results import Report, RunRecorder
    from ._figures import compare_figure

    df = load_dataset(dataset, freq=freq, time=time, root=root)
    recorder = RunRecorder(out, system="aoi", config={"dataset": dataset, "freq": freq,
                                                      **cfg.to_dict()})
    metrics, rows = compare(df, cfg)
    report = (Report(f"Per-age vs joint training: {cfg.target} ({dataset}, u = {cfg.window})")
              .paragraph("Test MSE per age on the standardized target scale; the joint models "
                         f"are one network each, trained on all {len(cfg.ages)} ages pooled.")
              .table([{k: metrics[k] for k in ("per_age_test_mse", "joint_test_mse",
                                                "joint_age_input_test_mse")}])
              .table(rows, ["age", "per_age_test_mse", "joint_test_mse",
                            "joint_age_input_test_mse", "n_test"])
              .figure(compare_figure(rows), "compare.png", "test MSE per age"))
    return recorder.finish(metrics=metrics, rows=rows, report=report)

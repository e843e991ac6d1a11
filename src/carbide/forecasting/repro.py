"""``carbide aoi repro``: the findings of "The Age of Correlated Features" on real PV data.

Paper: Shisher, Qin, Yang, Yan, Sun, "The Age of Correlated Features in Supervised Learning
based Forecasting", IEEE INFOCOM AoI Workshop 2021 (arXiv 2103.00092). Checked here on PVDAQ
system 50 (hourly AC power with PSM3 weather, 2011-04 .. 2013-12):

1. the training loss of a forecaster of solar power ``y_t`` from features aged ``Delta`` is
   **not monotone** in ``Delta`` (1 .. 48 h), for windows ``u`` in {6, 12, 24}, with one
   feature (past power) and with heterogeneous ages (power at ``Delta``, weather at
   ``Delta + 6``); the daily period of solar power is the expected cause: a 24 h-old window
   shows the same hours of the day as the target, a 12 h-old one the opposite hours;
2. the test loss follows the same pattern;
3. a model-free k-NN estimate of the minimum MSE (:mod:`.mmse`) shows the same shape without
   any network; a Gaussian AR(1) control (a Markov chain) gives the closed-form, monotone curve
   ``1 - a^(2 Delta)``; a Markov test measures how far PV power is from Markov;
4. one network trained on all ages pooled with the age as an input matches or beats separate
   per-age networks, and beats the pooled network without the age input.

MSEs are on the standardized target scale (1 = the training variance of AC power).
Note the data quirk: system 50's power timestamps follow daylight-saving clock time while the
weather does not (see :mod:`carbide.datasets.pv`); it shifts power against weather by an
hour for part of the year and does not change the daily period.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write
from .._validate import check_int
from ..exceptions import CarbideError, InvalidConfigError
from ..results import (
    Claim,
    Report,
    execute_repro,
    seed_everything,
    seed_summary,
    subplots,
    to_jsonable,
)
from ._figures import TOL, compare_figure, curves_figure, stretches_table
from .datasets import as_time_table, make_age_dataset
from .experiment import (
    CompareConfig,
    SweepConfig,
    compare,
    non_monotone_stretches,
    sweep,
)
from .mmse import knn_conditional_mse, markov_gap, mmse_estimate
from .train import TrainConfig

__all__ = ["FULL_PLAN", "QUICK_PLAN", "ReproPlan", "render", "run_plan", "run_repro", "run_stage"]


@dataclass(frozen=True)
class ReproPlan:
    """What one reproduction runs (see the module docstring)."""

    train: TrainConfig
    ages: tuple[int, ...]
    windows: tuple[int, ...]
    compare_ages: tuple[int, ...]
    compare_window: int
    #: the per-age vs joint comparison's model, when it differs from the sweeps' (``None``:
    #: the same, and the sweep's per-age results are reused)
    compare_train: TrainConfig | None = None
    site: str = "system50"
    freq: str = "1h"
    target: str = "ac_power"
    single: tuple[str, ...] = ("ac_power",)
    hetero: tuple[str, ...] = ("ac_power", "temp_air", "ghi")
    hetero_offsets: Mapping[str, int] = field(
        default_factory=lambda: {"temp_air": 6, "ghi": 6})
    mmse_ages: tuple[int, ...] = tuple(range(1, 49))
    markov_ages: tuple[int, ...] = (1, 6, 12, 24)
    markov_repeats: int = 10
    max_train: int | None = None
    ar1_a: float = 0.9
    ar1_n: int = 8000
    #: subsample size of every k-NN minimum-MSE estimate
    mmse_max_samples: int | None = 20000
    #: training samples of the two joint networks (``None``: all pooled windows)
    joint_max_train: int | None = None
    #: windows of the heterogeneous-ages sweep (``None``: ``windows``)
    hetero_windows: tuple[int, ...] | None = None
    #: seeds per run: ``seed, seed + 1, ..`` (each one resumable stage)
    seeds: int = 1
    #: measured wall time of this plan on an idle 2-core machine (minutes)
    expected_minutes: float = 0.0


_AGES_QUICK = (1, *range(3, 49, 3))

_AGES_6H = (1, *range(6, 49, 6))

#: Quick mode (about 2 min on 2 cores): 3 seeds; per seed, MLP sweeps at ages 1 and 6..48
#: step 6 over windows 6/12/24 (one feature) and 6 (heterogeneous ages), each MLP on 2,000
#: training windows; the per-age vs joint comparison with the paper's LSTM over 4 ages
#: (1, 12, 24, 36), at most 8 epochs on 2,000 windows per age; k-NN estimates on 3,000
#: samples; the MMSE curve every 3 h. Its limits are stated in the report.
QUICK_PLAN = ReproPlan(
    train=TrainConfig(model="mlp", epochs=10, patience=3, batch_size=256, max_train=2000),
    ages=_AGES_6H, windows=(6, 12, 24), hetero_windows=(6,), compare_ages=(1, 12, 24, 36),
    compare_window=12,
    compare_train=TrainConfig(model="lstm", epochs=8, patience=2, batch_size=256,
                              max_train=2000),
    mmse_ages=_AGES_QUICK, markov_repeats=5, mmse_max_samples=3000, joint_max_train=8000,
    seeds=3, expected_minutes=2.0,
)

#: The full run: 5 seeds of the paper's LSTM(32) at ages 1, 3, 6, .., 48 h (every third
#: hour), windows 6 and 12 with one feature and 6 with heterogeneous ages. Per seed, each
#: LSTM trains on a seeded subset of 2,000 of the ~15,000 training windows for at most 8
#: epochs (patience 2), and each k-NN estimate uses 4,000 samples; the comparison pools the
#: ages every 6 h at u = 12, its per-age models are the sweep's, and the two joint LSTMs
#: train on 18,000 pooled windows (9 ages x 2,000: the per-age models' data together). Why:
#: the first full plan (one seed, ages every hour, windows 6/12/24 for both feature sets, all
#: training windows, 40 epochs) took 28 min on an idle machine: 288 LSTMs at up to 40 epochs
#: on 15,000 windows were 81 % of it, then two joint LSTMs on 260,000 pooled windows and 288
#: k-NN estimates on 15,000 samples; five seeds of it would take 2.3 h. Each seed is one
#: resumable stage (``out/stages/seed<k>.json``, ``carbide aoi stage``).
FULL_PLAN = ReproPlan(
    train=TrainConfig(model="lstm", epochs=8, patience=2, batch_size=256, max_train=2000),
    ages=_AGES_QUICK, windows=(6, 12), hetero_windows=(6,), compare_ages=_AGES_6H,
    compare_window=12, markov_repeats=10, mmse_max_samples=4000, joint_max_train=18000,
    seeds=5, expected_minutes=10.0,
)

#: What the quick plan cannot show at its size (printed in its report).
QUICK_LIMITS = (
    "Quick mode is a smaller run of the same claims: 3 seeds instead of 5, ages every 6 h "
    "instead of every 3 h (a fall between two sampled ages can be missed or look shallower), "
    "an MLP instead of the paper's LSTM in the sweeps, heterogeneous ages at u = 6 only, "
    "k-NN estimates on 3,000 samples, and 4 pooled ages in the per-age vs "
    "joint comparison, so its MSEs are not the full run's; the full report "
    "(docs/reports/aoi) has the LSTM throughout.")


def _seeded(plan: ReproPlan, seed: int) -> ReproPlan:
    plan = dataclasses.replace(plan, train=dataclasses.replace(
        plan.train, seed=seed, max_train=plan.max_train or plan.train.max_train))
    if plan.compare_train is not None:
        plan = dataclasses.replace(plan, compare_train=dataclasses.replace(
            plan.compare_train, seed=seed,
            max_train=plan.max_train or plan.compare_train.max_train))
    return plan


def _ar1_curve(a: float, n: int, ages: Sequence[int], seed: int) -> list[dict[str, float]]:
    """Gaussian AR(1) control: k-NN MMSE estimate vs the closed form 1 - a^(2 Delta)."""
    rng = np.random.default_rng([seed, 21])
    e = rng.normal(scale=math.sqrt(1 - a * a), size=n)
    y = np.empty(n)
    y[0] = rng.normal()
    for t in range(1, n):  # a 8000-step recursion; scipy.signal.lfilter would hide the model
        y[t] = a * y[t - 1] + e[t]
    out = []
    for d in ages:
        out.append({"age": d, "true_mmse": 1 - a ** (2 * d),
                    "mmse_estimate": knn_conditional_mse(y[:-d], y[d:])})
    return out


def _stage_plan(plan: ReproPlan) -> dict[str, Any]:
    """The plan fields one seed's rows depend on (not the seed count or the expected time)."""
    d = to_jsonable(plan)
    d.pop("seeds", None)
    d.pop("expected_minutes", None)
    return d


def run_stage(plan: ReproPlan, *, seed: int = 0, root: str | os.PathLike[str] | None = None,
              stages: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """One seed's rows (see :func:`run_plan`), as one resumable stage.

    With ``stages`` (a folder), the rows are read from ``stages/seed<seed>.json`` when it
    exists, else measured and written there atomically (``{"seed", "plan", "rows"}``); a file
    written under another plan raises :class:`~carbide.exceptions.CarbideError` naming it.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidConfigError(f"seed must be a non-negative integer, got {seed!r}")
    path = None if stages is None else Path(stages) / f"seed{seed}.json"
    if path is not None and path.exists():
        data = json.loads(path.read_text())
        if data.get("seed") != seed or data.get("plan") != _stage_plan(plan):
            raise CarbideError(
                f"{path} holds the stage of another plan or seed; delete it (or give another "
                "--out) to measure this plan")
        return data["rows"]
    rows = to_jsonable(_run_seed(plan, seed=seed, root=root))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as fh:
            json.dump({"seed": seed, "plan": _stage_plan(plan), "rows": rows}, fh,
                      allow_nan=False)
    return rows


def run_plan(plan: ReproPlan, *, seed: int = 0, root: str | os.PathLike[str] | None = None,
             stages: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Train and measure everything ``plan`` asks for under ``plan.seeds`` seeds (``seed``,
    ``seed + 1``, ..); one row per measurement, each with its ``seed``.

    Rows carry ``study``: ``single`` / ``hetero`` (sweep rows), ``mmse_u1``, ``markov``,
    ``ar1``, ``compare`` (per age) and one ``compare_summary`` per seed (the comparison's
    means and weights). Each seed seeds every model, subset and subsample of its rows;
    ``root`` is the data root; ``stages``: a folder of per-seed stage files
    (:func:`run_stage`), so an interrupted run resumes with the seeds it has not finished.
    """
    check_int("seeds", plan.seeds, 1)
    rows: list[dict[str, Any]] = []
    for s in range(seed, seed + plan.seeds):
        rows += [{**r, "seed": s} for r in run_stage(plan, seed=s, root=root, stages=stages)]
    return rows


def _run_seed(plan: ReproPlan, *, seed: int,
              root: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """One seed's measurements (the body of :func:`run_plan`)."""
    from ..datasets import load_pv

    plan = _seeded(plan, seed)
    seed_everything(seed)
    df = load_pv(plan.site, plan.freq, root)
    cols = list(dict.fromkeys([plan.target, *plan.single, *plan.hetero]))
    table = as_time_table(df, columns=cols)

    single_cfg = SweepConfig(plan.target, plan.single, plan.ages, plan.windows,
                             train=plan.train, mmse_max_samples=plan.mmse_max_samples)
    hetero_cfg = SweepConfig(plan.target, plan.hetero, plan.ages,
                             plan.hetero_windows or plan.windows,
                             offsets=plan.hetero_offsets, train=plan.train,
                             mmse_max_samples=plan.mmse_max_samples)
    single = [{"study": "single", **r} for r in sweep(table, single_cfg, root_label="single")]
    hetero = [{"study": "hetero", **r} for r in sweep(table, hetero_cfg, root_label="hetero")]

    # the information curve of the freshest value alone (u = 1), every age
    mmse_u1 = {}
    for a in plan.mmse_ages:
        ds = make_age_dataset(table, plan.target, list(plan.single), 1, a).split().train
        mmse_u1[a] = mmse_estimate(ds, max_samples=plan.mmse_max_samples, seed=seed)
    markov = [markov_gap(table, plan.target, list(plan.single), a, window=1,
                         repeats=plan.markov_repeats, seed=seed).to_dict()
              for a in plan.markov_ages]
    ar1 = _ar1_curve(plan.ar1_a, plan.ar1_n, plan.mmse_ages, seed)

    cmp_train = plan.compare_train or plan.train
    cmp_cfg = CompareConfig(plan.target, plan.single, plan.compare_ages, plan.compare_window,
                            train=cmp_train,
                            joint_train=dataclasses.replace(cmp_train,
                                                            max_train=plan.joint_max_train))
    cmp_metrics, cmp_rows = compare(table, cmp_cfg,
                                    per_age_rows=single if plan.compare_train is None else None)
    return [*single, *hetero,
            *({"study": "mmse_u1", "window": 1, "age": a, "mmse_estimate": v}
              for a, v in mmse_u1.items()),
            *({"study": "markov", **m} for m in markov),
            *({"study": "ar1", **r} for r in ar1),
            *({"study": "compare", "window": plan.compare_window, **r} for r in cmp_rows),
            {"study": "compare_summary", "seed": seed, **cmp_metrics}]


def run_repro(out: str | os.PathLike[str], *, quick: bool = False, seed: int = 0,
              plan: ReproPlan | None = None,
              root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Run the reproduction into ``out`` (results contract); see the module docstring.

    ``seed`` is the first of ``plan.seeds`` seeds; ``plan`` overrides the quick/full plan;
    ``root`` is the data root (default ``$CARBIDE_DATA``). Every seed is a stage file under
    ``out/stages`` (kept; a rerun skips the seeds it finds there).
    """
    plan = plan or (QUICK_PLAN if quick else FULL_PLAN)
    stages = Path(out) / "stages"
    return execute_repro(out, system="aoi", plan=plan, quick=quick, seed=seed, root=root,
                         run_plan=functools.partial(run_plan, stages=stages), render=render)


def _mmse_figure(mmse_u1: Mapping[int, float], ar1: Sequence[Mapping[str, Any]],
                 a: float) -> Any:
    fig, ax = subplots(figsize=(6, 3.6))
    ax.plot(list(mmse_u1), list(mmse_u1.values()), marker=".", label="PV power (u = 1)")
    ax.plot([r["age"] for r in ar1], [r["mmse_estimate"] for r in ar1], marker=".",
            label=f"AR(1), a = {a}: k-NN estimate")
    ax.plot([r["age"] for r in ar1], [r["true_mmse"] for r in ar1], ls="--", color="black",
            label="AR(1): 1 - a^(2 age)")
    ax.set_xlabel("age (steps)")
    ax.set_ylabel("MMSE estimate (standardized)")
    ax.legend(fontsize=8)
    return fig


def _compare_summary(cmp_rows: Sequence[Mapping[str, Any]], plan: ReproPlan) -> dict[str, Any]:
    """The comparison's means and weights from its per-age rows and the plan (what
    :func:`~.experiment.compare` reports: means over the finite per-age values; one network's
    weights from the model it builds)."""
    from .models import build_model

    def mean(name: str) -> float:
        vals = [r[name] for r in cmp_rows if r.get(name) is not None and math.isfinite(r[name])]
        return float(np.mean(vals)) if vals else math.nan

    t = plan.compare_train or plan.train
    n = len(plan.single)

    def weights(inputs: int) -> int:
        model = build_model(t.model, inputs, plan.compare_window, t.hidden, t.layers)
        return sum(p.numel() for p in model.parameters())

    names = ("per_age_test_mse", "joint_test_mse", "joint_age_input_test_mse",
             "per_age_train_mse", "joint_train_mse", "joint_age_input_train_mse")
    return {**{k: mean(k) for k in names},
            "parameters": {"per_age_total": len(plan.compare_ages) * weights(n),
                           "joint": weights(n), "joint_age_input": weights(2 * n)}}


def _parse_seed(rows: Sequence[Mapping[str, Any]], plan: ReproPlan) -> dict[str, Any]:
    """One seed's studies from its rows."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["study"], []).append(r)
    cmp_rows = [{k: v for k, v in r.items() if k not in ("study", "window", "seed")}
                for r in by["compare"]]
    if "compare_summary" in by:
        (summary,) = by["compare_summary"]
    else:  # rows of a run before the summary row existed
        summary = _compare_summary(cmp_rows, plan)
    # (rows of earlier runs also hold their stretches under these studies: not sweep rows)
    single, hetero = ([dict(r) for r in by[k] if "age" in r] for k in ("single", "hetero"))
    return {
        "single": single, "hetero": hetero,
        "mmse_u1": {int(r["age"]): r["mmse_estimate"] for r in by["mmse_u1"]},
        "markov": [dict(r) for r in by["markov"]], "ar1": [dict(r) for r in by["ar1"]],
        "cmp_rows": cmp_rows,
        "cmp_metrics": {k: v for k, v in summary.items() if k not in ("study", "seed")},
        "seed": summary.get("seed"),
    }


def _finite_mean(values: Sequence[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(vals)) if vals else None


def _mean_rows(groups: Sequence[Sequence[Mapping[str, Any]]], key: Sequence[str],
               values: Sequence[str]) -> list[dict[str, Any]]:
    """Rows averaged over seeds, matched on ``key``; ``<value>_sd``: the sample standard
    deviation over seeds (``None`` with one seed)."""
    index: dict[tuple, list[Mapping[str, Any]]] = {}
    for rows in groups:
        for r in rows:
            index.setdefault(tuple(_hashable(r[k]) for k in key), []).append(r)
    out = []
    for matched in index.values():
        row = dict(matched[0])
        for v in values:
            vals = [m.get(v) for m in matched]
            row[v] = _finite_mean(vals)
            fin = [float(x) for x in vals if x is not None and math.isfinite(float(x))]
            row[f"{v}_sd"] = float(np.std(fin, ddof=1)) if len(fin) > 1 else None
        row["seeds"] = len(matched)
        out.append(row)
    return out


def _hashable(v: Any) -> Any:
    return tuple(sorted(v.items())) if isinstance(v, Mapping) else v


def render(rows: Sequence[Mapping[str, Any]], plan: ReproPlan) -> tuple[dict[str, Any], Report]:
    """Metrics, claim table and figures from :func:`run_plan`'s rows alone.

    Curves, tables and figures show the mean over seeds; every claim's figure is also
    computed per seed and summarized (mean, standard deviation, 95 % CI) with
    :func:`~carbide.results.seed_summary`.
    """
    seeded = [r for r in rows if r["study"] != "compare_summary"]
    if any("seed" in r for r in seeded):
        seeds = sorted({int(r["seed"]) for r in seeded})
        groups = [[r for r in rows if r.get("seed") == s] for s in seeds]
    else:  # a one-seed run from before rows carried their seed
        groups = [list(rows)]
    parsed = [_parse_seed(g, plan) for g in groups]
    seeds = [p["seed"] for p in parsed]
    if seeds[0] is not None:
        plan = _seeded(plan, int(seeds[0]))
    sweep_vals = ("train_mse", "val_mse", "test_mse", "mmse_estimate", "best_epoch")
    single = _mean_rows([p["single"] for p in parsed], ("window", "age"), sweep_vals)
    hetero = _mean_rows([p["hetero"] for p in parsed], ("window", "age"), sweep_vals)
    mmse_u1 = {a: _finite_mean([p["mmse_u1"].get(a) for p in parsed])
               for a in sorted(parsed[0]["mmse_u1"])}
    markov = _mean_rows([p["markov"] for p in parsed], ("ages",),
                        ("mmse_markov", "mmse_extra", "gap", "gap_sd", "relative"))
    ar1 = _mean_rows([p["ar1"] for p in parsed], ("age",), ("mmse_estimate",))
    cmp_names = ("per_age_test_mse", "joint_test_mse", "joint_age_input_test_mse",
                 "per_age_train_mse", "joint_train_mse", "joint_age_input_train_mse")
    cmp_rows = _mean_rows([p["cmp_rows"] for p in parsed], ("age",), cmp_names)
    cmp_metrics = {**parsed[0]["cmp_metrics"],
                   **{k: _finite_mean([p["cmp_metrics"][k] for p in parsed]) for k in cmp_names}}
    quick = dataclasses.replace(plan, expected_minutes=QUICK_PLAN.expected_minutes) == _seeded(
        QUICK_PLAN, plan.train.seed)
    report, metrics = _report(plan, quick, single, hetero, mmse_u1, markov, ar1, cmp_metrics,
                              cmp_rows, parsed)
    metrics["seeds"] = seeds if seeds[0] is not None else [plan.train.seed]
    return metrics, report


def _value_at(rows: Sequence[Mapping[str, Any]], u: int, age: int, key: str) -> float:
    v = _curve_at(rows, u, age, key)
    return math.nan if v is None else float(v)


def _fall_per_seed(parsed: Sequence[Mapping[str, Any]], study: str,
                   s: Mapping[str, Any] | None) -> list[float]:
    """Each seed's fall between the peak and trough ages of the mean curve's stretch ``s``."""
    if s is None:
        return []
    return [_value_at(p[study], s["window"], s["peak_age"], s["curve"])
            - _value_at(p[study], s["window"], s["trough_age"], s["curve"]) for p in parsed]


def _summary(values: Sequence[float]) -> Any:
    vals = [v for v in values if math.isfinite(v)]
    return seed_summary(vals) if vals else None


def _fig(sm: Any) -> float | None:
    return None if sm is None else sm.mean


def _fmt(sm: Any, digits: int = 3) -> str:
    if sm is None:
        return "not measured"
    if sm.n < 2:
        return f"{sm.mean:.{digits}f} (1 seed)"
    return (f"{sm.mean:.{digits}f} ± {sm.std:.{digits}f} (95 % CI {sm.ci95_low:.{digits}f}.."
            f"{sm.ci95_high:.{digits}f}, {sm.n} seeds)")


def _low(sm: Any) -> float:
    """The lower end of the seeds' 95 % interval (the value itself with one seed)."""
    return -math.inf if sm is None else (sm.mean if sm.n < 2 else sm.ci95_low)


def _high(sm: Any) -> float:
    return math.inf if sm is None else (sm.mean if sm.n < 2 else sm.ci95_high)


def _curve_at(rows: Sequence[Mapping[str, Any]], u: int, age: int, key: str) -> float | None:
    for r in rows:
        if r["window"] == u and r["age"] == age:
            return r[key]
    return None


def _biggest(stretches: Sequence[Mapping[str, Any]], curve: str) -> dict[str, Any] | None:
    mine = [s for s in stretches if s["curve"] == curve]
    return max(mine, key=lambda s: s["drop"]) if mine else None


def _describe(s: Mapping[str, Any] | None) -> str:
    if s is None:
        return f"no fall larger than {TOL}"
    return (f"u = {s['window']}: {s['peak_mse']:.3f} at {s['peak_age']} h -> "
            f"{s['trough_mse']:.3f} at {s['trough_age']} h")


def _report(plan: ReproPlan, quick: bool, single: list[dict[str, Any]],
            hetero: list[dict[str, Any]], mmse_u1: dict[int, float],
            markov: list[dict[str, Any]], ar1: list[dict[str, float]],
            cmp_metrics: dict[str, Any], cmp_rows: list[dict[str, Any]],
            parsed: Sequence[Mapping[str, Any]]) -> tuple[Report, dict[str, Any]]:
    st_single = stretches_table(single, extra={"study": "single"})
    st_hetero = stretches_table(hetero, extra={"study": "hetero"})
    u1_st = non_monotone_stretches(list(mmse_u1), list(mmse_u1.values()), tol=TOL)
    ar1_st = non_monotone_stretches([r["age"] for r in ar1], [r["mmse_estimate"] for r in ar1],
                                    tol=TOL)
    u1_big = max(u1_st, key=lambda s: s["drop"]) if u1_st else None
    ar1_err = max(abs(r["mmse_estimate"] - r["true_mmse"]) for r in ar1)
    all_st = st_single + st_hetero
    train_big = _biggest(st_single, "train_mse")
    test_big = _biggest(st_single, "test_mse")
    mmse_big = _biggest(st_single, "mmse_estimate")
    het_big = _biggest(st_hetero, "train_mse")
    pa, jn, ja = (cmp_metrics["per_age_test_mse"], cmp_metrics["joint_test_mse"],
                  cmp_metrics["joint_age_input_test_mse"])
    near_day = [s for s in all_st if 20 <= s["trough_age"] <= 30]
    # every claim's figure once per seed, at the ages the mean curve picks
    per_seed: list[dict[str, Any]] = []
    for p in parsed:
        ar1_p = p["ar1"]
        cm = p["cmp_metrics"]
        per_seed.append({
            "seed": p["seed"],
            "fall_train": _fall_per_seed([p], "single", train_big),
            "fall_test": _fall_per_seed([p], "single", test_big),
            "fall_mmse": _fall_per_seed([p], "single", mmse_big),
            "fall_mmse_u1": ([p["mmse_u1"][u1_big["peak_age"]]
                              - p["mmse_u1"][u1_big["trough_age"]]] if u1_big else []),
            "fall_hetero": _fall_per_seed([p], "hetero", het_big),
            "ar1_falls": [len(non_monotone_stretches(
                [r["age"] for r in ar1_p], [r["mmse_estimate"] for r in ar1_p], tol=TOL))],
            "ar1_max_abs_error": [max(abs(r["mmse_estimate"] - r["true_mmse"])
                                      for r in ar1_p)],
            "per_age_test_mse": [cm["per_age_test_mse"]],
            "joint_test_mse": [cm["joint_test_mse"]],
            "joint_age_input_test_mse": [cm["joint_age_input_test_mse"]],
            "joint_age_input_over_per_age": [cm["joint_age_input_test_mse"]
                                             / cm["per_age_test_mse"]],
            "age_input_gain": [cm["joint_test_mse"] - cm["joint_age_input_test_mse"]],
        })
    names = [k for k in per_seed[0] if k != "seed"]
    sm = {k: _summary([v for p in per_seed for v in p[k]]) for k in names}
    seed_rows = [{"seed": p["seed"], **{k: (p[k][0] if p[k] else None) for k in names}}
                 for p in per_seed]
    metrics = {
        "per_age_test_mse": pa, "joint_test_mse": jn, "joint_age_input_test_mse": ja,
        "per_age_train_mse": cmp_metrics["per_age_train_mse"],
        "joint_train_mse": cmp_metrics["joint_train_mse"],
        "joint_age_input_train_mse": cmp_metrics["joint_age_input_train_mse"],
        "parameters": cmp_metrics["parameters"],
        "largest_fall_train": _describe(train_big), "largest_fall_test": _describe(test_big),
        "largest_fall_mmse": _describe(mmse_big), "largest_fall_hetero": _describe(het_big),
        "falls_single": len(st_single), "falls_hetero": len(st_hetero),
        "falls_ending_near_24h": len(near_day),
        "ar1_max_abs_error": ar1_err, "ar1_falls": len(ar1_st),
        "markov_gap": {_key(m["ages"]): round(m["gap"], 4) for m in markov},
        "over_seeds": {k: (v.to_dict() if v is not None else None) for k, v in sm.items()},
    }
    for u in plan.windows:
        for a in (12, 24):
            v = _curve_at(single, u, a, "test_mse")
            if v is not None:
                metrics[f"test_mse_u{u}_age{a}"] = v
    def model_name(t: TrainConfig) -> str:
        return ("LSTM(32) + linear" if t.model == "lstm"
                else f"MLP ({t.layers} x {t.hidden or 64} ReLU)")

    model = model_name(plan.train)
    cmp_model = model_name(plan.compare_train or plan.train)
    n_seeds = len(parsed)
    ar1_counts = [p["ar1_falls"][0] for p in per_seed]

    def fall_text(s: Mapping[str, Any] | None, key: str) -> str:
        if s is None:
            return f"mean curve: {_describe(s)}"
        return (f"mean curve {_describe(s)}; that fall per seed {_fmt(sm[key])}")

    claims = [
        Claim("minimum training loss is not monotone in feature age",
              "yes: H_L(Y_t | X_{t-Delta}) can fall as Delta grows",
              fall_text(train_big, "fall_train"), "single feature (past power), see setup; "
              f"holds if the seeds' 95 % CI of the fall is above {TOL}",
              train_big is not None and _low(sm["fall_train"]) > TOL,
              figures={"fall_train": _fig(sm["fall_train"])}),
        Claim("test loss follows the same pattern", "yes", fall_text(test_big, "fall_test"),
              "", test_big is not None and _low(sm["fall_test"]) > TOL,
              figures={"fall_test": _fig(sm["fall_test"])}),
        Claim("model-free MMSE estimate shows the non-monotone curve", "(the paper's "
              "information-theoretic argument)",
              f"window estimate: {fall_text(mmse_big, 'fall_mmse')}; last value only (u = 1): "
              + (f"{u1_big['peak_mse']:.3f} at {u1_big['peak_age']} h -> "
                 f"{u1_big['trough_mse']:.3f} at {u1_big['trough_age']} h, per seed "
                 f"{_fmt(sm['fall_mmse_u1'])}" if u1_big else "monotone"),
              "leave-one-out k-NN, k = 20, debiased by k/(k+1)",
              bool((u1_big and _low(sm["fall_mmse_u1"]) > TOL)
                   or (mmse_big and _low(sm["fall_mmse"]) > TOL)),
              figures={"fall_mmse": _fig(sm["fall_mmse"]),
                       "fall_mmse_u1": _fig(sm["fall_mmse_u1"])}),
        Claim("heterogeneous ages: still non-monotone", "yes",
              fall_text(het_big, "fall_hetero"),
              f"power at age D, weather at D + offsets {dict(plan.hetero_offsets)}",
              het_big is not None and _low(sm["fall_hetero"]) > TOL,
              figures={"fall_hetero": _fig(sm["fall_hetero"])}),
        Claim("Markov data give a non-decreasing curve", "yes (approximately)",
              f"AR(1) a = {plan.ar1_a}: falls > {TOL} per seed {ar1_counts}; largest |estimate"
              f" - (1 - a^(2 age))| {_fmt(sm['ar1_max_abs_error'])}",
              "synthetic Gauss-Markov control, a new series per seed",
              max(ar1_counts) == 0,
              figures={"ar1_max_abs_error": _fig(sm["ar1_max_abs_error"])}),
        Claim("joint training with the age as input matches or beats per-age models",
              "yes (recommendation ii), with one network",
              f"mean test MSE {_fmt(sm['joint_age_input_test_mse'], 4)} (joint + age, 1 "
              f"network) vs {_fmt(sm['per_age_test_mse'], 4)} (per-age, "
              f"{len(plan.compare_ages)} networks); ratio "
              f"{_fmt(sm['joint_age_input_over_per_age'])}",
              f"{cmp_model}, u = {plan.compare_window}, ages {_ages_text(plan.compare_ages)};"
              f" holds if the ratio's 95 % CI stays at or below 1.02",
              _high(sm["joint_age_input_over_per_age"]) <= 1.02,
              figures={"joint_age_input_over_per_age":
                       _fig(sm["joint_age_input_over_per_age"])}),
        Claim("the age input helps the joint model", "yes (recommendation ii)",
              f"{ja:.4f} with age input vs {jn:.4f} without (means); gain per seed "
              f"{_fmt(sm['age_input_gain'], 4)}", "holds if the gain's 95 % CI is above 0",
              _low(sm["age_input_gain"]) > 0,
              figures={"age_input_gain": _fig(sm["age_input_gain"])}),
    ]
    subset = ("every training window" if plan.train.max_train is None
              else f"a seeded subset of at most {plan.train.max_train:,} training windows "
                   "per model")
    if plan.joint_max_train is not None:
        subset += (f" (the two joint networks: at most {plan.joint_max_train:,} pooled "
                   "windows)")
    setup = (
        f"{'Quick' if quick else 'Full'} mode. PVDAQ system 50 with NSRDB PSM3 weather, "
        f"resampled to {plan.freq} (carbide.datasets.load_pv: strict bin means, gaps kept), "
        f"{plan.target} as target. Chronological split 70 / 15 / 15 % of the time span, the "
        f"same cut times for every age; samples whose window straddles a cut are purged. "
        f"Windows touching a gap are dropped (counts in the rows). Model: {model}, Adam lr "
        f"{plan.train.lr}, batch {plan.train.batch_size}, MSE, at most {plan.train.epochs} "
        f"epochs with early stopping on validation MSE (patience {plan.train.patience}), "
        f"{subset}; one model per (window, age). Ages "
        f"{_ages_text(plan.ages)} h, windows u = {list(plan.windows)}. MSEs are on the "
        f"standardized target scale (1 = training variance). A non-monotone stretch is a "
        f"fall of more than {TOL} from a local peak to the next local trough as age grows. "
        f"{n_seeds} seed(s) ({', '.join(str(p['seed']) for p in per_seed)}): each seeds "
        f"every model's initialization and shuffling, the training subsets and the k-NN and "
        f"Markov subsamples, and draws a new AR(1) series. Curves, tables and figures show "
        f"the mean over seeds; each claim's figure is measured per seed (a fall at the peak "
        f"and trough ages of the mean curve) and given as mean ± sample standard deviation "
        f"with the Student-t 95 % interval over seeds (carbide.results.seed_summary)."
        + (f" With {plan.train.max_train:,} windows and at most {plan.train.epochs} epochs a "
           f"per-age model takes at most "
           f"{math.ceil(plan.train.max_train / plan.train.batch_size) * plan.train.epochs} "
           "optimizer steps, so it is not trained to convergence: its MSEs lie above the "
           "k-NN estimates, and the claims rest on the shape of the curves in age (where "
           "the seeds agree), not on the MSE levels."
           if plan.train.max_train is not None else ""))

    report = Report("The age of correlated features: loss vs age on real PV data "
                    "(Shisher et al., 2021)")
    report.paragraph(setup).claims(claims)
    if quick:
        report.paragraph(QUICK_LIMITS)
    report.heading("Claim figures per seed")
    report.table(seed_rows, ["seed", *names])
    report.heading("Where and why the curve is non-monotone (mean curves)")
    report.paragraph(_why(single, st_single, u1_st, mmse_u1, markov))
    report.table([*st_single, *st_hetero],
                 ["study", "window", "curve", "peak_age", "peak_mse", "trough_age",
                  "trough_mse", "drop"])
    report.heading("1. One feature: past AC power")
    report.figure(curves_figure(single, f"{plan.target} from past power (system 50, hourly)",
                                mmse_u1), "loss_vs_age_single.png",
                  "loss vs age, past power only")
    cols = ["window", "age", "n_train", "n_test", "dropped", "train_mse", "test_mse",
            "test_mse_sd", "mmse_estimate", "best_epoch"]
    report.table(single, cols)
    report.heading("2. Heterogeneous ages: power at D, temp_air and ghi at D + offset")
    report.figure(curves_figure(hetero, "power at age D, " + ", ".join(
        f"{k} at D + {v}" for k, v in plan.hetero_offsets.items())), "loss_vs_age_hetero.png",
        "loss vs age, heterogeneous ages")
    report.table(hetero, cols)
    report.heading("3. Model-free MMSE estimate and the Markov test")
    report.figure(_mmse_figure(mmse_u1, ar1, plan.ar1_a), "mmse_vs_age.png",
                  "k-NN MMSE estimate vs age, PV and AR(1) control")
    report.paragraph(
        "Markov test: MMSE estimate given X_{t-D} alone minus given (X_{t-D}, X_{t-D-1}); "
        f"mean and standard deviation over {plan.markov_repeats} random 80 % subsamples. A "
        "Markov chain gives about 0 (see the AR(1) test in tests/forecasting).")
    report.table(markov, ["ages", "mmse_markov", "mmse_extra", "gap", "gap_sd", "relative",
                          "samples"])
    report.heading(f"4. Per-age vs joint vs joint with age input (u = {plan.compare_window})")
    report.figure(compare_figure(cmp_rows), "compare.png", "test MSE per age")
    report.table([{k: cmp_metrics[k] for k in (
        "per_age_test_mse", "joint_test_mse", "joint_age_input_test_mse", "per_age_train_mse",
        "joint_train_mse", "joint_age_input_train_mse")}])
    report.paragraph(f"Weights: {cmp_metrics['parameters']} (per_age_total: all per-age "
                     f"networks together).")
    report.table(cmp_rows, ["age", "per_age_test_mse", "joint_test_mse",
                            "joint_age_input_test_mse", "n_test"])
    return report, metrics


def _key(ages: Mapping[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in ages.items())


def _ages_text(ages: Sequence[int]) -> str:
    a = list(ages)
    if len(a) > 3 and a == list(range(a[0], a[-1] + 1)):
        return f"{a[0]}..{a[-1]}"
    return ", ".join(str(x) for x in a)


def _why(rows: Sequence[Mapping[str, Any]], st_single: Sequence[Mapping[str, Any]],
         u1_st: Sequence[Mapping[str, Any]],
         mmse_u1: Mapping[int, float], markov: Sequence[Mapping[str, Any]]) -> str:
    ages = sorted(mmse_u1)
    lo = {a: mmse_u1[a] for a in ages}
    peak = max((a for a in ages if a <= 18), key=lambda a: lo[a], default=None)
    day = min((a for a in ages if 20 <= a <= 28), key=lambda a: lo[a], default=None)
    parts = []
    if st_single:
        where = "; ".join(f"u = {s['window']} {s['curve']}: {s['peak_age']} h "
                          f"({s['peak_mse']:.3f}) -> {s['trough_age']} h ({s['trough_mse']:.3f})"
                          for s in st_single)
        parts.append(f"Falls of the loss as age grows (single feature): {where}.")
    windows = sorted({r["window"] for r in rows})
    falling = [u for u in windows if any(x["window"] == u for x in st_single)]
    flat = [u for u in windows if u not in falling]
    if peak is not None and day is not None:
        half = f": {lo[12]:.3f} at 12 h" if 12 in lo else ""
        parts.append(
            f"The freshest value alone (u = 1) says least at {peak} h (MMSE estimate "
            f"{lo[peak]:.3f}) and, past the first hours, most at {day} h ({lo[day]:.3f}). "
            f"Solar power follows the daily cycle: a reading a whole day old shows the "
            f"target's own hour of the previous day; half a day old it shows the opposite "
            f"phase, which still tells a daytime target from a night one (a smaller dip"
            f"{half}); about a quarter day old (6 h, 18 h) a dark reading fits a bright and a "
            f"dark target hour alike, so the information is lowest there. Longer windows see "
            f"part or all of the cycle themselves, so their curves are flatter: windows with "
            f"a fall larger than {TOL} here: u = {falling or 'none'}; without: u = "
            f"{flat or 'none'}.")
    if markov:
        gaps = ", ".join(f"{m['ages']}: {m['gap']:.3f} +- {m['gap_sd']:.3f}" for m in markov)
        parts.append(f"PV power is far from Markov: the next-older value still lowers the "
                     f"MMSE estimate ({gaps}), which is what allows the non-monotone curve.")
    return " ".join(parts)

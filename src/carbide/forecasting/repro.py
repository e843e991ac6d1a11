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
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..results import Claim, Report, execute_repro, seed_everything, subplots
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

__all__ = ["FULL_PLAN", "QUICK_PLAN", "ReproPlan", "render", "run_plan", "run_repro"]


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
    #: measured wall time of this plan on an idle 2-core machine (minutes)
    expected_minutes: float = 0.0


_AGES_QUICK = (1, *range(3, 49, 3))

#: Quick mode (about 1.5 min on 2 cores): MLP sweeps over windows 6/12/24 at ages 1 and
#: 6..48 step 6; the per-age vs joint comparison with the paper's LSTM over 4 ages
#: (1, 12, 24, 36), 12 epochs; the MMSE curve every 3 h. Its limits are stated in the report.
QUICK_PLAN = ReproPlan(
    train=TrainConfig(model="mlp", epochs=10, patience=3, batch_size=256),
    ages=(1, *range(6, 49, 6)), windows=(6, 12, 24), compare_ages=(1, 12, 24, 36),
    compare_window=12,
    compare_train=TrainConfig(model="lstm", epochs=12, patience=3, batch_size=256),
    mmse_ages=_AGES_QUICK, markov_repeats=5, mmse_max_samples=8000, expected_minutes=1.5,
)

#: The full run: the paper's LSTM(32), every age 1..48 h; the comparison pools every third age.
FULL_PLAN = ReproPlan(
    train=TrainConfig(model="lstm", epochs=40, patience=5, batch_size=256),
    ages=tuple(range(1, 49)), windows=(6, 12, 24), compare_ages=_AGES_QUICK,
    compare_window=12, markov_repeats=20, expected_minutes=28.0,
)

#: What the quick plan cannot show at its size (printed in its report).
QUICK_LIMITS = (
    "Quick mode is a smaller run of the same claims: ages every 6 h instead of every hour "
    "(a fall between two sampled ages can be missed or look shallower), an MLP instead of the "
    "paper's LSTM in the sweeps, k-NN minimum-MSE estimates on 8,000 instead of 20,000 "
    "samples (noisier, biased further upwards), and 4 pooled ages with at most 12 LSTM epochs "
    "in the per-age vs joint comparison, so its MSEs are not the full run's; the full report "
    "(docs/reports/aoi) has every age and the LSTM throughout.")


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


def run_plan(plan: ReproPlan, *, seed: int = 0,
             root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Train and measure everything ``plan`` asks for; one row per measurement.

    Rows carry ``study``: ``single`` / ``hetero`` (sweep rows), ``mmse_u1``, ``markov``,
    ``ar1``, ``compare`` (per age) and one ``compare_summary`` (the comparison's means,
    weights and the seed). ``seed`` seeds every model; ``root`` is the data root.
    """
    from ..datasets import load_pv

    plan = _seeded(plan, seed)
    seed_everything(seed)
    df = load_pv(plan.site, plan.freq, root)
    cols = list(dict.fromkeys([plan.target, *plan.single, *plan.hetero]))
    table = as_time_table(df, columns=cols)

    single_cfg = SweepConfig(plan.target, plan.single, plan.ages, plan.windows,
                             train=plan.train, mmse_max_samples=plan.mmse_max_samples)
    hetero_cfg = SweepConfig(plan.target, plan.hetero, plan.ages, plan.windows,
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

    cmp_cfg = CompareConfig(plan.target, plan.single, plan.compare_ages, plan.compare_window,
                            train=plan.compare_train or plan.train)
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

    ``seed`` seeds every model; ``plan`` overrides the quick/full plan; ``root`` is the data
    root (default ``$CARBIDE_DATA``).
    """
    plan = plan or (QUICK_PLAN if quick else FULL_PLAN)
    return execute_repro(out, system="aoi", plan=plan, quick=quick, seed=seed, root=root,
                         run_plan=run_plan, render=render)


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


def render(rows: Sequence[Mapping[str, Any]], plan: ReproPlan) -> tuple[dict[str, Any], Report]:
    """Metrics, claim table and figures from :func:`run_plan`'s rows alone."""
    by: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["study"], []).append(r)
    cmp_rows = [{k: v for k, v in r.items() if k not in ("study", "window")}
                for r in by["compare"]]
    if "compare_summary" in by:
        (summary,) = by["compare_summary"]
        plan = _seeded(plan, int(summary["seed"]))
    else:  # rows of a run before the summary row existed: its plan holds the seed
        summary = _compare_summary(cmp_rows, plan)
    # (rows of earlier runs also hold their stretches under these studies: not sweep rows)
    single, hetero = ([r for r in by[k] if "age" in r] for k in ("single", "hetero"))
    mmse_u1 = {int(r["age"]): r["mmse_estimate"] for r in by["mmse_u1"]}
    markov, ar1 = by["markov"], by["ar1"]
    cmp_metrics = {k: v for k, v in summary.items() if k not in ("study", "seed")}
    quick = dataclasses.replace(plan, expected_minutes=QUICK_PLAN.expected_minutes) == _seeded(
        QUICK_PLAN, plan.train.seed)
    report, metrics = _report(plan, quick, single, hetero, mmse_u1, markov, ar1, cmp_metrics,
                              cmp_rows)
    return metrics, report


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
            cmp_metrics: dict[str, Any], cmp_rows: list[dict[str, Any]]
            ) -> tuple[Report, dict[str, Any]]:
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
    claims = [
        Claim("minimum training loss is not monotone in feature age",
              "yes: H_L(Y_t | X_{t-Delta}) can fall as Delta grows",
              _describe(train_big), "single feature (past power), see setup",
              train_big is not None),
        Claim("test loss follows the same pattern", "yes", _describe(test_big), "",
              test_big is not None),
        Claim("model-free MMSE estimate shows the non-monotone curve", "(the paper's "
              "information-theoretic argument)",
              f"window estimate: {_describe(mmse_big)}; last value only (u = 1): "
              + (f"{u1_big['peak_mse']:.3f} at {u1_big['peak_age']} h -> "
                 f"{u1_big['trough_mse']:.3f} at {u1_big['trough_age']} h"
                 if u1_big else "monotone"),
              "leave-one-out k-NN, k = 20, debiased by k/(k+1)", bool(u1_st or mmse_big)),
        Claim("heterogeneous ages: still non-monotone", "yes", _describe(het_big),
              f"power at age D, weather at D + offsets {dict(plan.hetero_offsets)}",
              het_big is not None),
        Claim("Markov data give a non-decreasing curve", "yes (approximately)",
              f"AR(1) a = {plan.ar1_a}: {len(ar1_st)} falls > {TOL}; largest |estimate - "
              f"(1 - a^(2 age))| = {ar1_err:.3f}", "synthetic Gauss-Markov control",
              not ar1_st, figures={"ar1_max_abs_error": ar1_err}),
        Claim("joint training with the age as input matches or beats per-age models",
              "yes (recommendation ii), with one network",
              f"mean test MSE {ja:.4f} (joint + age, 1 network) vs {pa:.4f} (per-age, "
              f"{len(plan.compare_ages)} networks)",
              f"{cmp_model}, u = {plan.compare_window}, ages {_ages_text(plan.compare_ages)};"
              f" holds if within 2 % of the per-age MSE or below", ja <= 1.02 * pa,
              figures={"joint_age_input_test_mse": ja, "per_age_test_mse": pa}),
        Claim("the age input helps the joint model", "yes (recommendation ii)",
              f"{ja:.4f} with age input vs {jn:.4f} without", "", ja < jn,
              figures={"joint_age_input_test_mse": ja, "joint_test_mse": jn}),
    ]
    setup = (
        f"{'Quick' if quick else 'Full'} mode. PVDAQ system 50 with NSRDB PSM3 weather, "
        f"resampled to {plan.freq} (carbide.datasets.load_pv: strict bin means, gaps kept), "
        f"{plan.target} as target. Chronological split 70 / 15 / 15 % of the time span, the "
        f"same cut times for every age; samples whose window straddles a cut are purged. "
        f"Windows touching a gap are dropped (counts in the rows). Model: {model}, Adam lr "
        f"{plan.train.lr}, batch {plan.train.batch_size}, MSE, at most {plan.train.epochs} "
        f"epochs with early stopping on validation MSE (patience {plan.train.patience}), "
        f"seed {plan.train.seed}; one model per (window, age). Ages "
        f"{_ages_text(plan.ages)} h, windows u = {list(plan.windows)}. MSEs are on the "
        f"standardized target scale (1 = training variance). A non-monotone stretch is a "
        f"fall of more than {TOL} from a local peak to the next local trough as age grows.")
    report = Report("The age of correlated features: loss vs age on real PV data "
                    "(Shisher et al., 2021)")
    report.paragraph(setup).claims(claims)
    if quick:
        report.paragraph(QUICK_LIMITS)
    report.heading("Where and why the curve is non-monotone")
    report.paragraph(_why(single, st_single, u1_st, mmse_u1, markov))
    report.table([*st_single, *st_hetero],
                 ["study", "window", "curve", "peak_age", "peak_mse", "trough_age",
                  "trough_mse", "drop"])
    report.heading("1. One feature: past AC power")
    report.figure(curves_figure(single, f"{plan.target} from past power (system 50, hourly)",
                                mmse_u1), "loss_vs_age_single.png",
                  "loss vs age, past power only")
    cols = ["window", "age", "n_train", "n_test", "dropped", "train_mse", "test_mse",
            "mmse_estimate", "best_epoch"]
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

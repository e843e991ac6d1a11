"""Figures and tables of loss-vs-age results, shared by the experiments and the reproduction.

Every function takes rows (as :func:`~.experiment.sweep` and :func:`~.experiment.compare`
return them, or as ``results.json`` stores them) and returns a matplotlib figure or rows, so a
report can be rebuilt from its rows alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..results import subplots
from .experiment import non_monotone_stretches

__all__ = ["TOL", "compare_figure", "curves_figure", "stretches_table"]

#: A loss must fall by more than this (standardized scale) to count as a non-monotone stretch.
TOL = 0.02


def stretches_table(rows: Sequence[Mapping[str, Any]], tol: float = TOL,
                    curves: Sequence[str] = ("train_mse", "test_mse", "mmse_estimate"),
                    extra: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Non-monotone stretches (falls larger than ``tol``) of each window's curves."""
    out = []
    for u in sorted({r["window"] for r in rows}):
        mine = sorted((r for r in rows if r["window"] == u), key=lambda r: r["age"])
        for curve in curves:
            vals = [r.get(curve) for r in mine]
            if any(v is None or not math.isfinite(v) for v in vals):
                continue
            for s in non_monotone_stretches([r["age"] for r in mine], vals, tol=tol):
                out.append({**(extra or {}), "window": u, "curve": curve, **s})
    return out


def curves_figure(rows: Sequence[Mapping[str, Any]], title: str,
                  mmse_u1: Mapping[int, float] | None = None) -> Any:
    """One panel per window: train, test and MMSE-estimate MSE against age."""
    windows = sorted({r["window"] for r in rows})
    fig, axes = subplots(1, len(windows), figsize=(4.5 * len(windows), 3.6), squeeze=False,
                         sharey=True)
    for ax, u in zip(axes[0], windows, strict=True):
        mine = sorted((r for r in rows if r["window"] == u), key=lambda r: r["age"])
        ages = [r["age"] for r in mine]
        ax.plot(ages, [r["train_mse"] for r in mine], marker=".", label="training MSE")
        ax.plot(ages, [r["test_mse"] for r in mine], marker=".", label="test MSE")
        est = [r.get("mmse_estimate") for r in mine]
        if all(v is not None and math.isfinite(v) for v in est):
            ax.plot(ages, est, ls="--", label="k-NN MMSE estimate")
        if mmse_u1:
            k = sorted(mmse_u1)
            ax.plot(k, [mmse_u1[a] for a in k], ls=":", color="grey",
                    label="k-NN MMSE, last value only (u = 1)")
        for day in (24, 48):
            if ages and ages[0] <= day <= ages[-1]:
                ax.axvline(day, color="black", lw=0.5, alpha=0.4)
        ax.set_title(f"u = {u}")
        ax.set_xlabel("age (steps)")
    axes[0][0].set_ylabel("MSE (standardized target)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)
    fig.suptitle(title)
    return fig


def compare_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Test MSE per age of the per-age, joint and joint-with-age models."""
    fig, ax = subplots(figsize=(6, 3.8))
    ages = [r["age"] for r in rows]
    for key, label in (("per_age_test_mse", "per-age models"),
                       ("joint_test_mse", "joint, no age input"),
                       ("joint_age_input_test_mse", "joint, age as input")):
        ax.plot(ages, [r[key] for r in rows], marker=".", label=label)
    ax.set_xlabel("age (steps)")
    ax.set_ylabel("test MSE (standardized target)")
    ax.legend()
    return fig

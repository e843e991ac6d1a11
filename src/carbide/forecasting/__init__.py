"""Age-aware forecasting: how feature freshness shapes learning ("The Age of Correlated
Features in Supervised Learning based Forecasting", Shisher, Qin, Yang, Yan, Sun, IEEE INFOCOM
AoI Workshop 2021, arXiv 2103.00092).

- :func:`make_age_dataset` pairs a target ``y_t`` with each feature's window ending
  ``Delta_i`` steps before ``t`` on any time-indexed DataFrame; :func:`make_joint_dataset`
  pools several age vectors, optionally with the ages as inputs.
- :func:`fit_model` trains the paper's LSTM(32) + linear (or an MLP) with early stopping;
  :func:`evaluate_per_age` scores a joint model age by age.
- :func:`mmse_estimate` / :func:`knn_conditional_mse` estimate the minimum achievable MSE of
  an age vector without a network; :func:`markov_gap` tests how far the data are from Markov.
- :func:`sweep` and :func:`compare` are the loss-vs-age sweep and the per-age / joint /
  joint-with-age comparison behind ``carbide aoi``.

Names load lazily, so ``import carbide.forecasting`` stays light.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_LAZY = {
    "NAN_POLICY": ".datasets",
    "AgeAwareDataset": ".datasets",
    "DatasetSplit": ".datasets",
    "TimeTable": ".datasets",
    "as_time_table": ".datasets",
    "make_age_dataset": ".datasets",
    "make_joint_dataset": ".datasets",
    "split_boundaries": ".datasets",
    "MODEL_KINDS": ".models",
    "LSTMRegressor": ".models",
    "MLPRegressor": ".models",
    "build_model": ".models",
    "FitResult": ".train",
    "Standardizer": ".train",
    "TrainConfig": ".train",
    "evaluate": ".train",
    "evaluate_per_age": ".train",
    "fit_model": ".train",
    "predict": ".train",
    "MarkovGap": ".mmse",
    "binned_conditional_mse": ".mmse",
    "knn_conditional_mse": ".mmse",
    "markov_gap": ".mmse",
    "mmse_estimate": ".mmse",
    "summarize": ".mmse",
    "CompareConfig": ".experiment",
    "SweepConfig": ".experiment",
    "compare": ".experiment",
    "load_dataset": ".experiment",
    "non_monotone_stretches": ".experiment",
    "parse_ages": ".experiment",
    "parse_features": ".experiment",
    "parse_offsets": ".experiment",
    "run_compare": ".experiment",
    "run_sweep": ".experiment",
    "sweep": ".experiment",
    "ReproPlan": ".repro",
    "render": ".repro",
    "run_plan": ".repro",
    "run_repro": ".repro",
    "run_stage": ".repro",
    "QUICK_PLAN": ".repro",
    "FULL_PLAN": ".repro",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

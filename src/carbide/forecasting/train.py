"""Training and evaluation of forecasters on :class:`~.datasets.AgeAwareDataset` parts.

Inputs and target are standardized with the *training* part's statistics (per channel over
samples and window rows; the target's mean and standard deviation). Every MSE this module
reports is on that standardized target scale: 1.0 is the MSE of predicting the training mean
for data with the training variance, so losses of different ages, windows and data sets are
comparable, and comparable to :func:`carbide.forecasting.mmse.mmse_estimate`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError
from ..results import progress as _progress
from .datasets import AgeAwareDataset
from .models import MODEL_KINDS, build_model

__all__ = ["FitResult", "Standardizer", "TrainConfig", "evaluate", "evaluate_per_age",
           "fit_model", "predict"]


@dataclass(frozen=True)
class TrainConfig:
    """How to train one forecaster.

    Args:
        model: ``"lstm"`` (the paper's LSTM(32) + linear) or ``"mlp"``.
        hidden: LSTM units / MLP width (default 32 for LSTM, 64 for MLP).
        layers: MLP hidden layers.
        lr: Adam learning rate (the paper: 1e-3).
        batch_size: mini-batch size.
        epochs: most epochs.
        patience: stop after this many epochs without a better validation MSE (the best
            epoch's weights are kept); 0 disables early stopping.
        seed: seeds initialization and shuffling.
        max_train: train on at most this many samples (a seeded random subset), ``None``: all.
    """

    model: str = "lstm"
    hidden: int | None = None
    layers: int = 2
    lr: float = 1e-3
    batch_size: int = 256
    epochs: int = 50
    patience: int = 5
    seed: int = 0
    max_train: int | None = None

    def __post_init__(self) -> None:
        if self.model not in MODEL_KINDS:
            raise InvalidConfigError(f"unknown model {self.model!r}; choose one of: "
                                     f"{', '.join(MODEL_KINDS)}")
        if self.hidden is not None:
            check_int("hidden", self.hidden, 1)
        check_int("layers", self.layers, 1)
        check_real("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_int("batch_size", self.batch_size, 1)
        check_int("epochs", self.epochs, 1)
        check_int("patience", self.patience, 0)
        check_int("seed", self.seed, 0)
        if self.max_train is not None:
            check_int("max_train", self.max_train, 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Standardizer:
    """Per-channel input and target standardization, fitted on a training part."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float

    @classmethod
    def fit(cls, ds: AgeAwareDataset) -> Standardizer:
        x = ds.inputs
        m = x.mean(axis=(0, 1))
        s = x.std(axis=(0, 1))
        s = np.where(s > 1e-8, s, 1.0)  # a constant channel (one age) passes through
        ys = float(ds.y.std())
        return cls(m.astype(np.float32), s.astype(np.float32), float(ds.y.mean()),
                   ys if ys > 1e-12 else 1.0)

    def x(self, ds: AgeAwareDataset) -> torch.Tensor:
        return torch.from_numpy(((ds.inputs - self.x_mean) / self.x_std).astype(np.float32))

    def y(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.y_mean) / self.y_std).astype(np.float32)


@dataclass
class FitResult:
    """A trained forecaster: the network, its scaler, and the losses (standardized scale)."""

    model: nn.Module
    scaler: Standardizer
    config: TrainConfig
    train_mse: float
    val_mse: float
    best_epoch: int
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)
    age_input: bool = False


def _check_part(name: str, ds: AgeAwareDataset, need: int) -> None:
    if len(ds) < need:
        raise InvalidConfigError(
            f"the {name} part has {len(ds)} sample(s); the model needs at least {need}: use a "
            f"longer series, smaller ages/window, or other split fractions")


def predict(fit: FitResult, ds: AgeAwareDataset, batch_size: int = 4096) -> np.ndarray:
    """Predictions ``(n,)`` in the target's original units."""
    if ds.age_input != fit.age_input:
        raise InvalidConfigError(
            f"the model was trained with age_input={fit.age_input}, the data set has "
            f"age_input={ds.age_input}")
    z = _predict_std(fit.model, fit.scaler.x(ds), batch_size)
    return z * fit.scaler.y_std + fit.scaler.y_mean


def _predict_std(model: nn.Module, x: torch.Tensor, batch_size: int = 4096) -> np.ndarray:
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = [model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    finally:
        model.train(was)
    return torch.cat(out).numpy() if out else np.empty(0, np.float32)


def evaluate(fit: FitResult, ds: AgeAwareDataset) -> float:
    """MSE on ``ds`` on the standardized target scale (NaN for an empty set)."""
    if len(ds) == 0:
        return math.nan
    pred = _predict_std(fit.model, fit.scaler.x(ds))
    return float(np.mean((pred - fit.scaler.y(ds.y)) ** 2))


def evaluate_per_age(fit: FitResult, ds: AgeAwareDataset) -> dict[tuple[int, ...], float]:
    """MSE per age vector present in ``ds`` (standardized scale)."""
    if len(ds) == 0:
        return {}
    err = (_predict_std(fit.model, fit.scaler.x(ds)) - fit.scaler.y(ds.y)) ** 2
    out = {}
    for vec in ds.age_vectors:
        mask = np.all(ds.ages == np.asarray(vec)[None, :], axis=1)
        out[vec] = float(err[mask].mean())
    return out


def fit_model(train: AgeAwareDataset, val: AgeAwareDataset, config: TrainConfig | None = None,
              *, progress: bool = False, description: str = "train") -> FitResult:
    """Train a forecaster with Adam and MSE, early-stopped on ``val``.

    Args:
        train: training samples (their statistics standardize everything).
        val: validation samples for early stopping (same features, window, age_input).
        config: see :class:`TrainConfig` (default: the paper's LSTM).
        progress: show a rich progress bar over epochs.

    Returns:
        A :class:`FitResult` holding the best-validation weights; ``train_mse`` and
        ``val_mse`` are re-evaluated with them in eval mode (not running averages).

    Raises:
        InvalidConfigError: fewer training samples than one batch's worth of 2 or an empty
            validation part; parts that do not match.
    """
    cfg = config or TrainConfig()
    _check_part("training", train, 2)
    _check_part("validation", val, 1)
    if (val.features, val.window, val.age_input) != (train.features, train.window,
                                                     train.age_input):
        raise InvalidConfigError("train and val parts differ in features, window or age_input")
    if cfg.max_train is not None and len(train) > cfg.max_train:
        rng = np.random.default_rng([cfg.seed, 7])
        train = train.subset(np.sort(rng.choice(len(train), cfg.max_train, replace=False)))
    scaler = Standardizer.fit(train)
    xt, yt = scaler.x(train), torch.from_numpy(scaler.y(train.y))
    xv, yv = scaler.x(val), scaler.y(val.y)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, train.num_inputs, train.window, cfg.hidden, cfg.layers)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    best = (math.inf, 0, copy.deepcopy(model.state_dict()))
    history: list[dict[str, float]] = []
    wait = 0
    epoch = 0
    bar = _progress(transient=True) if progress else None
    task = None
    if bar is not None:
        bar.start()
        task = bar.add_task(description, total=cfg.epochs)
    try:
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            perm = torch.randperm(len(xt), generator=gen)
            total = 0.0
            for i in range(0, len(perm), cfg.batch_size):
                idx = perm[i:i + cfg.batch_size]
                loss = torch.mean((model(xt[idx]) - yt[idx]) ** 2)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            val_mse = float(np.mean((_predict_std(model, xv) - yv) ** 2))
            history.append({"epoch": epoch, "train_loss": total / len(perm), "val_mse": val_mse})
            if bar is not None:
                bar.advance(task)
            if val_mse < best[0]:
                best = (val_mse, epoch, copy.deepcopy(model.state_dict()))
                wait = 0
            else:
                wait += 1
                if cfg.patience and wait >= cfg.patience:
                    break
    finally:
        if bar is not None:
            bar.stop()
    model.load_state_dict(best[2])
    model.eval()
    train_mse = float(np.mean((_predict_std(model, xt) - yt.numpy()) ** 2))
    return FitResult(model, scaler, cfg, train_mse, best[0], best[1], epoch, history,
                     train.age_input)


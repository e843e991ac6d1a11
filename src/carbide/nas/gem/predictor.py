"""Accuracy predictor on cell embeddings, with an efficiency term.

NASGEM (arXiv 2007.04452) trains a predictor on the embeddings of the cells evaluated so far
and uses it to score many sampled cells, so that only the most promising are trained. The
agreed reconstruction (no official code exists): an ensemble of small MLPs (inputs
standardized on the training set, targets standardized), trained full-batch with Adam on
mean squared error; the ensemble mean is the prediction. The efficiency term trades accuracy
for cost (parameters or multiply-accumulates):

``score = predicted_accuracy - cost_weight * (cost - min(cost)) / (max(cost) - min(cost))``

with min and max over the scored candidates, so ``cost_weight`` is in accuracy units (points
of accuracy given up for going from the cheapest to the dearest candidate). ``cost_weight = 0``
(the default) ranks by predicted accuracy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["AccuracyPredictor", "PredictorConfig", "efficiency_score", "rank_correlation"]


@dataclass(frozen=True)
class PredictorConfig:
    """Predictor settings.

    Attributes:
        hidden: hidden layer widths of each MLP (default ``(64, 64)``).
        ensemble: MLPs averaged (default 5; members differ in initialization).
        epochs: full-batch Adam steps (default 300).
        lr: learning rate (default 3e-3).
        weight_decay: Adam weight decay (default 1e-4).
    """

    hidden: tuple[int, ...] = (64, 64)
    ensemble: int = 5
    epochs: int = 300
    lr: float = 3e-3
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if not self.hidden or any(
            isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in self.hidden
        ):
            raise InvalidConfigError(
                f"hidden must be a non-empty tuple of positive widths, got {self.hidden!r}"
            )
        check_int("ensemble", self.ensemble, 1)
        check_int("epochs", self.epochs, 1)
        check_real("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_real("weight_decay", self.weight_decay, 0.0, 10.0)


class AccuracyPredictor:
    """Predict accuracy from embeddings (estimator style: :meth:`fit` returns ``self``).

    Args:
        config: :class:`PredictorConfig` (defaults when ``None``).
        seed: seeds every member's initialization (default 0).
    """

    def __init__(self, config: PredictorConfig | None = None, *, seed: int = 0) -> None:
        self.config = config or PredictorConfig()
        self.seed = check_int("seed", seed, 0)
        self._members: list | None = None

    def fit(self, embeddings: np.ndarray, accuracy: Sequence[float]) -> AccuracyPredictor:
        """Train on ``(N, D)`` embeddings and ``N`` accuracies (any unit; N >= 2)."""
        import numpy as np
        import torch

        x = np.asarray(embeddings, dtype=np.float64)
        y = np.asarray(accuracy, dtype=np.float64)
        if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] < 2:
            raise InvalidConfigError(
                f"fit needs (N, D) embeddings and N accuracies with N >= 2; got {x.shape} and "
                f"{y.shape}"
            )
        if not np.isfinite(x).all() or not np.isfinite(y).all():
            raise InvalidConfigError("embeddings and accuracies must be finite")
        self._x_mean, self._x_std = x.mean(0), x.std(0) + 1e-6
        self._y_mean, self._y_std = y.mean(), y.std() + 1e-9
        xt = torch.as_tensor((x - self._x_mean) / self._x_std, dtype=torch.float32)
        yt = torch.as_tensor((y - self._y_mean) / self._y_std, dtype=torch.float32)
        cfg = self.config
        # The members are stacked (E, in, out) weights trained in one batched pass: their
        # losses are summed, so each member's gradient is its own, and Adam is elementwise,
        # so this equals training them one by one, at the cost of about one member.
        dims = [x.shape[1], *cfg.hidden, 1]
        gen = torch.Generator().manual_seed(self.seed)
        params = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            bound = 1.0 / a ** 0.5  # nn.Linear's default initialization
            w = (torch.rand(cfg.ensemble, a, b, generator=gen) * 2 - 1) * bound
            bias = (torch.rand(cfg.ensemble, 1, b, generator=gen) * 2 - 1) * bound
            params += [w.requires_grad_(), bias.requires_grad_()]
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        xe = xt.unsqueeze(0).expand(cfg.ensemble, -1, -1)
        for _ in range(cfg.epochs):
            loss = torch.mean((_forward(params, xe).squeeze(-1) - yt) ** 2, dim=1).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        self._members = [p.detach() for p in params]
        return self

    def predict(self, embeddings: np.ndarray, *, return_std: bool = False):
        """Predicted accuracy ``(M,)`` (the ensemble mean; with ``return_std`` also the
        members' standard deviation, in the same unit).

        Raises:
            CarbideError: the predictor is not fitted.
        """
        import numpy as np
        import torch

        from ...exceptions import CarbideError

        if self._members is None:
            raise CarbideError("AccuracyPredictor is not fitted; call fit(embeddings, acc)")
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self._x_mean.shape[0]:
            raise InvalidConfigError(
                f"embeddings of shape {x.shape}; expected (M, {self._x_mean.shape[0]})"
            )
        xt = torch.as_tensor((x - self._x_mean) / self._x_std, dtype=torch.float32)
        with torch.no_grad():
            xe = xt.unsqueeze(0).expand(self.config.ensemble, -1, -1)
            preds = _forward(self._members, xe).squeeze(-1).double().numpy()
        preds = preds * self._y_std + self._y_mean
        mean = preds.mean(0)
        return (mean, preds.std(0)) if return_std else mean

    def score(
        self, embeddings: np.ndarray, cost: Sequence[float] | None = None,
        cost_weight: float = 0.0,
    ) -> np.ndarray:
        """:func:`efficiency_score` of the predicted accuracy (``(M,)``)."""
        return efficiency_score(self.predict(embeddings), cost, cost_weight)


def _forward(params: list, x):
    """The stacked MLPs: ``x`` ``(E, N, in)`` -> ``(E, N, 1)``, ReLU between layers."""
    import torch

    h = x
    last = len(params) // 2 - 1
    for i in range(0, len(params), 2):
        h = torch.baddbmm(params[i + 1], h, params[i])
        if i // 2 < last:
            h = torch.relu(h)
    return h


def efficiency_score(
    predicted: Sequence[float], cost: Sequence[float] | None = None, cost_weight: float = 0.0
) -> np.ndarray:
    """``predicted - cost_weight * min-max normalized cost`` (see the module docstring).

    Args:
        predicted: ``(M,)`` predicted accuracies.
        cost: ``(M,)`` costs (parameters, MACs, ...); required when ``cost_weight > 0``.
        cost_weight: lambda >= 0, in accuracy units (default 0: accuracy only).
    """
    import numpy as np

    check_real("cost_weight", cost_weight, 0.0, float("inf"))
    pred = np.asarray(predicted, dtype=np.float64)
    if cost_weight == 0.0:
        return pred
    if cost is None:
        raise InvalidConfigError("cost_weight > 0 needs the candidates' cost (params or MACs)")
    c = np.asarray(cost, dtype=np.float64)
    if c.shape != pred.shape:
        raise InvalidConfigError(f"cost has shape {c.shape}, predictions {pred.shape}")
    span = c.max() - c.min() if c.size else 0.0
    norm = (c - c.min()) / span if span > 0 else np.zeros_like(c)
    return pred - cost_weight * norm


def rank_correlation(predicted: Sequence[float], actual: Sequence[float]) -> dict[str, float]:
    """``{"spearman", "kendall"}`` between predictions and true values (scipy.stats)."""
    import math

    import numpy as np

    from ..._imports import optional_import

    stats = optional_import("scipy.stats", "nas", purpose="rank correlation")
    p, a = np.asarray(predicted, float), np.asarray(actual, float)
    if p.shape != a.shape or p.ndim != 1 or len(p) < 2:
        raise InvalidConfigError(f"need two equal 1-d arrays of >= 2 values, got {p.shape}, "
                                 f"{a.shape}")
    rho, tau = stats.spearmanr(p, a).statistic, stats.kendalltau(p, a).statistic
    return {"spearman": float(rho) if math.isfinite(rho) else 0.0,
            "kendall": float(tau) if math.isfinite(tau) else 0.0}

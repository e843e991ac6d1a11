"""Training and evaluation of CTR models, supernet training and weight-inheriting scoring.

The recipe follows the official NASRec scripts, scaled down for a CPU: Adagrad (lr 0.12 in the
paper's Criteo runs), batch 512, binary cross-entropy on logits, a learning rate warmed up
linearly and then cosine-decayed to zero. Supernet training adds the paper's warm-up of the
*architecture*: at step ``s`` the full supernet (every operator, every input, max widths) is
trained with probability :func:`full_path_probability` ``= max(0, 1 - s / warmup_steps)``, else a
subnet drawn by single-operator any-connection sampling runs by index
(:meth:`RecSupernet.forward`).

:class:`SupernetEvaluator` scores a subnet with inherited weights after fine-tuning its last
layer (the paper's post-training fine-tuning), as a :class:`carbide.nas.evaluators.Evaluator`
(cached by architecture JSON), so :func:`carbide.nas.search.run_search` drives it. Its
``val_acc`` is the *negative validation logloss* (searches maximize it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from ..cell import Cell
from ..evaluators import Evaluation, Evaluator
from .data import TabularCTR
from .space import RecSpace

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = [
    "SupernetEvaluator",
    "TrainConfig",
    "binary_auc",
    "count_flops",
    "evaluate_model",
    "full_path_probability",
    "lr_factor",
    "train_model",
    "train_supernet",
]


@dataclass(frozen=True)
class TrainConfig:
    """How a CTR model (or the supernet) is trained.

    Attributes:
        epochs: passes over the training split.
        batch_size: 512 as in the paper.
        lr: Adagrad learning rate (the paper's 0.12).
        warmup_frac: fraction of steps with a linearly rising learning rate.
        max_steps: stop after this many steps (``None``: all epochs).
        train_rows: use only this many training rows (``None``: all), for quick runs.
        seed: seed of the batch order.
    """

    epochs: int = 1
    batch_size: int = 512
    lr: float = 0.12
    warmup_frac: float = 0.05
    max_steps: int | None = None
    train_rows: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_real("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_real("warmup_frac", self.warmup_frac, 0.0, 1.0, hi_open=True)
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps, 1)
        if self.train_rows is not None:
            check_int("train_rows", self.train_rows, 1)
        check_int("seed", self.seed, 0)


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier at ``step`` (0-based): linear warm-up over ``warmup`` steps,
    then cosine decay to 0 at ``total``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(total - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(step - warmup, span) / span))


def full_path_probability(step: int, warmup_steps: int) -> float:
    """Probability of training the full supernet at ``step``: ``max(0, 1 - step /
    warmup_steps)`` (1 at step 0, 0 from ``warmup_steps`` on; always 0 without warm-up)."""
    if warmup_steps <= 0:
        return 0.0
    return max(0.0, 1.0 - step / warmup_steps)


def binary_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties averaged; NaN with one class."""
    from scipy.stats import rankdata

    labels = np.asarray(labels, dtype=bool)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _batches(tensors: dict[str, torch.Tensor], batch_size: int, gen=None):
    import torch

    n = len(tensors["label"])
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    for idx in order.split(batch_size):
        yield {k: v[idx] for k, v in tensors.items()}


def _train_tensors(data: TabularCTR, config: TrainConfig) -> dict[str, torch.Tensor]:
    tr = data.tensors("train")
    if config.train_rows is not None and config.train_rows < len(tr["label"]):
        import torch

        idx = torch.randperm(len(tr["label"]),
                             generator=torch.Generator().manual_seed(config.seed))
        tr = {k: v[idx[:config.train_rows]] for k, v in tr.items()}
    return tr


def _total_steps(n: int, config: TrainConfig) -> int:
    total = math.ceil(n / config.batch_size) * config.epochs
    return min(total, config.max_steps) if config.max_steps is not None else total


def evaluate_model(forward: Callable[[dict], torch.Tensor], data: TabularCTR,
                   split: str = "test", *, batch_size: int = 4096,
                   rows: int | None = None) -> dict[str, float]:
    """``{"logloss", "auc"}`` of ``forward(batch) -> logits`` on a split (first ``rows``)."""
    import torch
    from torch.nn import functional as F  # noqa: N812

    tensors = data.tensors(split)
    if rows is not None:
        tensors = {k: v[:rows] for k, v in tensors.items()}
    logits = []
    with torch.no_grad():
        for batch in _batches(tensors, batch_size):
            logits.append(forward(batch).float())
    z = torch.cat(logits)
    y = tensors["label"]
    loss = float(F.binary_cross_entropy_with_logits(z, y))
    return {"logloss": loss, "auc": binary_auc(y.numpy(), z.numpy())}


def _optimizer(params, config: TrainConfig, total: int):
    import torch

    opt = torch.optim.Adagrad(params, lr=config.lr)
    warm = int(round(config.warmup_frac * total))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, warm))
    return opt, sched


def train_model(model: nn.Module, data: TabularCTR, config: TrainConfig | None = None, *,
                forward: Callable[[dict], torch.Tensor] | None = None) -> dict[str, Any]:
    """Train ``model`` (``model(batch) -> logits (B,)``, or ``forward``) on the training
    split with :class:`TrainConfig`'s recipe. Returns ``{"steps", "train_s", "losses"}``."""
    import torch
    from torch.nn import functional as F  # noqa: N812

    config = config or TrainConfig()
    forward = forward or model
    tr = _train_tensors(data, config)
    total = _total_steps(len(tr["label"]), config)
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = _optimizer(params, config, total)
    gen = torch.Generator().manual_seed(config.seed)
    model.train()
    step, losses, start = 0, [], time.perf_counter()
    while step < total:
        for batch in _batches(tr, config.batch_size, gen):
            if step >= total:
                break
            loss = F.binary_cross_entropy_with_logits(forward(batch), batch["label"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
    model.eval()
    return {"steps": step, "train_s": time.perf_counter() - start, "losses": losses}


def train_supernet(supernet: nn.Module, data: TabularCTR, config: TrainConfig | None = None,
                   *, warmup_steps: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Train a :class:`RecSupernet` with single-operator any-connection sampling.

    Args:
        supernet: the supernet (its ``space`` samples the subnets).
        data: the CTR table.
        config: optimizer recipe (:class:`TrainConfig`).
        warmup_steps: steps over which the full-supernet probability decays from 1 to 0
            (default: a quarter of the steps; 0 turns the warm-up off).
        seed: seed of the architecture sampling.

    Returns:
        ``{"steps", "train_s", "losses", "full_steps", "p_full"}`` (``p_full``: the
        probability used at each step).
    """
    import torch
    from torch.nn import functional as F  # noqa: N812

    config = config or TrainConfig()
    space: RecSpace = supernet.space
    tr = _train_tensors(data, config)
    total = _total_steps(len(tr["label"]), config)
    warm = total // 4 if warmup_steps is None else check_int("warmup_steps", warmup_steps, 0)
    opt, sched = _optimizer(list(supernet.parameters()), config, total)
    gen = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(seed)
    supernet.train()
    step, losses, p_full, full_steps = 0, [], [], 0
    start = time.perf_counter()
    while step < total:
        for batch in _batches(tr, config.batch_size, gen):
            if step >= total:
                break
            p = full_path_probability(step, warm)
            p_full.append(p)
            if rng.random() < p:
                logits = supernet.forward_masked(batch, None)
                full_steps += 1
            else:
                logits = supernet(batch, space.sample_arch(rng))
            loss = F.binary_cross_entropy_with_logits(logits, batch["label"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
    supernet.eval()
    return {"steps": step, "train_s": time.perf_counter() - start, "losses": losses,
            "full_steps": full_steps, "p_full": p_full}


def count_flops(model: nn.Module, data: TabularCTR) -> tuple[int, int]:
    """``(flops per example, parameters)`` of ``model`` (FLOPs of matmuls by PyTorch's
    ``FlopCounterMode`` on one test row; embedding look-ups count 0)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    batch = {k: v[:1] for k, v in data.tensors("test").items()}
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(batch)
    return int(counter.get_total_flops()), int(sum(p.numel() for p in model.parameters()))


class SupernetEvaluator(Evaluator):
    """Score subnets with weights inherited from a trained supernet.

    Each new architecture is exported (:func:`export_subnet`), its last layer fine-tuned for
    ``finetune_steps`` Adagrad steps on batches of ``finetune_rows`` fixed training rows (0:
    no fine-tuning), and its validation logloss measured on ``val_rows`` rows.
    ``val_acc = -val_logloss``; ``extra`` has ``val_logloss``, ``val_auc`` and the
    architecture JSON; ``cost_s`` is the measured scoring time.

    Args:
        supernet: a trained :class:`RecSupernet`.
        data: the CTR table the supernet was trained on.
        finetune_steps: last-layer fine-tuning steps.
        finetune_lr: their Adagrad learning rate.
        finetune_rows: training rows the last layer is fine-tuned on.
        batch_size: fine-tuning batch size.
        val_rows: validation rows scored (``None``: all).
        seed: seed of the fine-tuning batches (the same for every subnet).
    """

    name = "supernet"

    def __init__(self, supernet: nn.Module, data: TabularCTR, *, finetune_steps: int = 50,
                 finetune_lr: float = 0.05, finetune_rows: int = 8192, batch_size: int = 512,
                 val_rows: int | None = None, seed: int = 0):
        super().__init__()
        self.supernet = supernet
        self.space: RecSpace = supernet.space
        self.data = data
        self.finetune_steps = check_int("finetune_steps", finetune_steps, 0)
        self.finetune_lr = check_real("finetune_lr", finetune_lr, 0.0, 10.0, lo_open=True)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.finetune_rows = check_int("finetune_rows", finetune_rows, 1)
        self.val_rows = None if val_rows is None else check_int("val_rows", val_rows, 1)
        self.seed = check_int("seed", seed, 0)
        self._cached_rows: tuple[dict, dict] | None = None

    def key(self, cell: Cell) -> str:
        if cell.arch is None:
            raise InvalidConfigError("a NASRec cell carries its architecture JSON in arch")
        return cell.arch

    def _rows(self) -> tuple[dict, dict]:
        if self._cached_rows is None:
            import torch

            tr = self.data.tensors("train")
            gen = torch.Generator().manual_seed(self.seed)
            idx = torch.randperm(len(tr["label"]), generator=gen)[:self.finetune_rows]
            va = self.data.tensors("val")
            if self.val_rows is not None:
                va = {k: v[:self.val_rows] for k, v in va.items()}
            self._cached_rows = ({k: v[idx] for k, v in tr.items()}, va)
        return self._cached_rows

    def score_arch(self, arch) -> dict[str, Any]:
        """``{"val_logloss", "val_auc", "model"}`` of one architecture (no caching).

        The subnet's last-layer input is computed once (no gradients) on ``finetune_rows``
        training rows and on the validation rows; the last layer is then fine-tuned on those
        features, which is exact for a last-layer-only fine-tuning and cheap."""
        import torch
        from torch.nn import functional as F  # noqa: N812

        from .supernet import export_subnet

        model = export_subnet(self.supernet, arch).eval()
        ft, va = self._rows()
        with torch.no_grad():
            f_tr = torch.cat([model.features(b) for b in _batches(ft, 4096)])
            f_va = torch.cat([model.features(b) for b in _batches(va, 4096)])
        w = model.final_w.detach().clone().requires_grad_(True)
        b = model.final_b.detach().clone().requires_grad_(True)
        if self.finetune_steps:
            opt = torch.optim.Adagrad([w, b], lr=self.finetune_lr)
            gen = torch.Generator().manual_seed(self.seed)
            y_tr = ft["label"]
            step = 0
            while step < self.finetune_steps:
                for idx in torch.randperm(len(y_tr), generator=gen).split(self.batch_size):
                    if step >= self.finetune_steps:
                        break
                    z = f_tr[idx] @ w.T + b
                    loss = F.binary_cross_entropy_with_logits(z.squeeze(-1), y_tr[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
        with torch.no_grad():
            model.final_w.copy_(w)
            model.final_b.copy_(b)
            z = (f_va @ w.T + b).squeeze(-1)
        y = va["label"]
        loss = float(F.binary_cross_entropy_with_logits(z, y))
        return {"val_logloss": loss, "val_auc": binary_auc(y.numpy(), z.numpy()),
                "model": model}

    def _evaluate(self, cell: Cell) -> Evaluation:
        start = time.perf_counter()
        arch = self.space.to_arch(cell)
        result = self.score_arch(arch)
        cost = time.perf_counter() - start
        params = sum(p.numel() for p in result["model"].parameters())
        return Evaluation(val_acc=-result["val_logloss"], cost_s=cost, params=float(params),
                          extra={"val_logloss": result["val_logloss"],
                                 "val_auc": result["val_auc"], "arch": cell.arch})

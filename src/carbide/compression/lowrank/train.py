"""SVD-training recipes: data, the three training stages, evaluation, latency.

Paper: Yang et al., CVPR Workshops 2020 (arXiv 2004.09031). The schedule:

1. decompose the model (``init="random"`` by default: trained from scratch in SVD form) and
   train with the orthogonality regularizer only (``epochs[0]`` epochs);
2. continue with the sparsity regularizer added (``epochs[1]`` epochs);
3. prune each layer's ranks by energy ``E``, then fine-tune with the orthogonality regularizer
   only (``epochs[2]`` epochs, learning rate decayed to 0 on a cosine).

Adam with learning rate 1e-3 (constant in stages 1-2) as in the authors' CIFAR runs by
default; SGD with OneCycle per stage and weight decay is the converged ResNet recipe
(:func:`train_epochs`: ``optimizer``, ``schedule``, ``weight_decay``), and every stage can
checkpoint each epoch and resume.
"""

from __future__ import annotations

import copy
import math
import os
import statistics
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..._eval import accuracy
from ..._validate import check_int
from ...exceptions import InvalidConfigError
from ._decompose import decompose, layer_ranks, prune_
from .flops import count_flops, count_params
from .regularizers import SVDRegularizer

if TYPE_CHECKING:
    from .experiment import SVDTrainConfig

__all__ = [
    "DATASETS",
    "OPTIMIZERS",
    "PRECISIONS",
    "SCHEDULES",
    "ImageTask",
    "compare_latency",
    "compression_figures",
    "evaluate",
    "load_image_task",
    "measure_latency",
    "prune_and_finetune",
    "stage_cycles",
    "train_epochs",
    "train_svd_stages",
]

#: Recipe datasets by CLI name.
DATASETS: tuple[str, ...] = ("cifar10", "fashion-mnist")

#: Optimizers and learning-rate schedules of :func:`train_epochs`.
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
SCHEDULES: tuple[str, ...] = ("constant", "cosine", "onecycle")
#: Arithmetic of the forward pass while training: ``"bf16"`` is :func:`torch.autocast` mixed
#: precision (weights, optimizer state and the regularizer stay float32).
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")

# per-channel statistics of the training splits
_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "fashion-mnist": ((0.2860,), (0.3530,)),
}


@dataclass
class ImageTask:
    """Normalized float images and labels of one dataset, ready for training.

    Attributes:
        name: dataset name.
        x_train, x_test: ``float32`` ``(N, C, H, W)``, normalized per channel.
        y_train, y_test: ``int64`` ``(N,)``.
        augment: random crop (4-pixel padding) and horizontal flip while training (CIFAR).
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    augment: bool = False

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def load_image_task(dataset: str, *, root: Any = None, train_subset: int | None = None,
                    test_subset: int | None = None, seed: int = 0) -> ImageTask:
    """Load ``"cifar10"`` or ``"fashion-mnist"`` from the data root as an :class:`ImageTask`.

    Args:
        dataset: one of :data:`DATASETS`.
        root: data root (see :func:`carbide.datasets.data_root`).
        train_subset: keep this many training images, a class-balanced random subset (shortened
            schedules); ``None`` keeps all.
        test_subset: likewise for the test images (tests and smoke runs; reports use all).
        seed: seed of the subsets.
    """
    from ...datasets import load_cifar10, load_fashion_mnist

    if dataset not in DATASETS:
        raise InvalidConfigError(
            f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    loader = load_cifar10 if dataset == "cifar10" else load_fashion_mnist
    train, test = loader("train", root), loader("test", root)
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in _STATS[dataset])

    def prep(images: torch.Tensor) -> torch.Tensor:
        return ((images.float() / 255.0) - mean) / std

    def balanced(x: torch.Tensor, y: torch.Tensor, n: int | None, name: str, split: str):
        if n is None:
            return x, y
        check_int(name, n, 1)
        if n > len(y):
            raise InvalidConfigError(
                f"{name}={n} exceeds the {len(y)} {split} images of {dataset}")
        gen = torch.Generator().manual_seed(seed)
        classes = int(y.max()) + 1
        per = [torch.nonzero(y == c).flatten() for c in range(classes)]
        per = [p[torch.randperm(len(p), generator=gen)] for p in per]
        take = torch.cat([p[: n // classes + (c < n % classes)] for c, p in enumerate(per)])
        take = take[torch.randperm(len(take), generator=gen)]
        return x[take], y[take]

    x, y = balanced(train.images, train.labels, train_subset, "train_subset", "training")
    xt, yt = balanced(test.images, test.labels, test_subset, "test_subset", "test")
    return ImageTask(dataset, prep(x), y.clone(), prep(xt), yt.clone(),
                     augment=dataset == "cifar10")


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random 4-pixel-padded crop and horizontal flip per image (the standard CIFAR recipe)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    oy = torch.randint(0, 9, (n,), generator=gen)
    ox = torch.randint(0, 9, (n,), generator=gen)
    rows = (oy[:, None] + torch.arange(h))[:, :, None]
    cols = (ox[:, None] + torch.arange(w))[:, None, :]
    out = padded.permute(0, 2, 3, 1)[torch.arange(n)[:, None, None], rows, cols]
    out = out.permute(0, 3, 1, 2)
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out).contiguous()


def train_epochs(
    model: nn.Module,
    task: ImageTask,
    epochs: int,
    *,
    lr: float = 1e-3,
    batch_size: int = 128,
    regularizer: SVDRegularizer | None = None,
    optimizer: str = "adam",
    schedule: str = "constant",
    weight_decay: float = 0.0,
    seed: int = 0,
    description: str = "train",
    checkpoint: str | os.PathLike[str] | None = None,
    precision: str = "fp32",
    cycle: tuple[int, int] | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` in place for ``epochs`` epochs over ``task``'s training split.

    Args:
        lr: the learning rate (the peak of ``"onecycle"``).
        regularizer: added to the cross-entropy loss each step (``None``: none).
        optimizer: ``"adam"`` (default, the authors' CIFAR runs) or ``"sgd"`` (Nesterov
            momentum 0.9, the converged ResNet recipe).
        schedule: ``"constant"`` (default), ``"cosine"`` (``lr`` decayed to 0 over the steps)
            or ``"onecycle"`` (:class:`torch.optim.lr_scheduler.OneCycleLR` peaking at ``lr``).
        weight_decay: L2 weight decay of the optimizer (default 0).
        seed: seed of the shuffling and augmentation.
        checkpoint: a file to resume from and to save to after every epoch (model, optimizer,
            schedule, shuffling state, history), so a run killed mid-way loses at most one
            epoch; a finished checkpoint returns its history without training. A checkpoint
            written with other settings is refused.
        precision: ``"fp32"`` (default) or ``"bf16"``: the forward pass under
            :func:`torch.autocast` in bfloat16 (1.6-1.7x faster ResNet-20 steps on a CPU with
            AVX512-BF16, one thread); weights, optimizer and regularizer stay float32.
        cycle: ``(first_epoch, total_epochs)``: these ``epochs`` are epochs ``first_epoch ..
            first_epoch + epochs - 1`` of a ``"cosine"`` or ``"onecycle"`` schedule spanning
            ``total_epochs`` (two stages sharing one learning-rate cycle, as SVD training's
            stages 1 and 2). ``None``: the schedule spans these epochs alone.

    Returns:
        One dict per epoch: ``loss`` (mean task loss), ``seconds`` (the epoch's training time),
        ``lr`` (the learning rate after the epoch's last step), and ``orth`` and ``sparsity``
        (the regularizer's unweighted parts at the epoch's last step, if any).
    """
    from ..._io import atomic_path
    from ...results import progress

    check_int("epochs", epochs, 0)
    for name, value, choices in (("optimizer", optimizer, OPTIMIZERS),
                                 ("schedule", schedule, SCHEDULES),
                                 ("precision", precision, PRECISIONS)):
        if value not in choices:
            raise InvalidConfigError(
                f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
    first, total_epochs = (0, epochs) if cycle is None else cycle
    if cycle is not None:
        check_int("cycle[0]", first, 0)
        if not isinstance(total_epochs, int) or first + epochs > total_epochs:
            raise InvalidConfigError(
                f"cycle={cycle!r}: epochs {first}..{first + epochs - 1} do not fit in a "
                f"schedule of {total_epochs!r} epochs; give (first_epoch, total_epochs) with "
                f"first_epoch + epochs <= total_epochs")
        if schedule == "constant":
            raise InvalidConfigError(
                f"cycle={cycle!r} needs a schedule that changes over the cycle "
                f"(\"cosine\" or \"onecycle\"), not \"constant\"")
    history: list[dict[str, float]] = []
    if epochs == 0:
        return history
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True,
                              weight_decay=weight_decay)
    n = len(task.y_train)
    per_epoch = math.ceil(n / batch_size)
    steps = epochs * per_epoch
    span = total_epochs * per_epoch
    sched = {"constant": None,
             "cosine": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(opt, span),
             "onecycle": lambda: torch.optim.lr_scheduler.OneCycleLR(
                 opt, max_lr=lr, total_steps=span)}[schedule]
    sched = sched() if sched is not None else None
    if first:  # the earlier part of the cycle, trained elsewhere: move the schedule only
        # (never opt.step() here: a model fresh from the earlier stage still holds that
        # stage's last gradients, which it would apply once per skipped step)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step")
            for _ in range(first * per_epoch):
                sched.step()
    key = {"description": description, "epochs": epochs, "lr": lr, "batch_size": batch_size,
           "optimizer": optimizer, "schedule": schedule, "weight_decay": weight_decay,
           "seed": seed, "n": n}
    if precision != "fp32" or cycle is not None:  # keys of older checkpoints stay valid
        key.update(precision=precision, cycle=[first, total_epochs])
    done = 0
    if checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state["key"] != key:
            raise InvalidConfigError(
                f"checkpoint {checkpoint} was written by another training ({state['key']}), "
                f"not this one ({key}); delete it or give another checkpoint path")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        history, done = list(state["history"]), int(state["epoch"])
    if done == epochs:
        return history
    if task.x_train.dim() == 4:  # NHWC convolutions run ~15% faster on CPU (oneDNN)
        model.to(memory_format=torch.channels_last)
    model.train()
    with progress(transient=True) as bar:
        resumed = f" (resumed after epoch {done})" if done else ""
        job = bar.add_task(description + resumed, total=steps - done * (steps // epochs))
        for epoch in range(done, epochs):
            t0 = time.perf_counter()
            order = torch.randperm(n, generator=gen)
            total, parts = 0.0, {}
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                x = task.x_train[idx]
                if task.augment:
                    x = _augment(x, gen)
                x, y = x.to(device), task.y_train[idx].to(device)
                with torch.autocast(device.type, dtype=torch.bfloat16,
                                    enabled=precision == "bf16"):
                    loss = F.cross_entropy(model(x), y)
                total += float(loss.detach()) * len(idx)
                if regularizer is not None:
                    reg, parts = regularizer(model)
                    loss = loss + reg
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                bar.advance(job)
            if not math.isfinite(total):
                raise FloatingPointError(
                    f"training diverged (loss {total}); lower the learning rate or strength")
            history.append({"loss": total / n, "seconds": time.perf_counter() - t0,
                            "lr": float(opt.param_groups[0]["lr"]),
                            **{k: float(v) for k, v in parts.items()}})
            if checkpoint is not None:
                with atomic_path(checkpoint) as tmp:
                    torch.save({"key": key, "epoch": epoch + 1, "model": model.state_dict(),
                                "optimizer": opt.state_dict(),
                                "scheduler": sched.state_dict() if sched is not None else None,
                                "generator": gen.get_state(), "history": history}, tmp)
    return history


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000
             ) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)`` in eval mode (mode restored after)."""
    return accuracy(model, x, y, batch_size=batch_size)


def measure_latency(model: nn.Module, input_shape: Sequence[int], *, batch: int = 32,
                    threads: int = 1, min_run_time: float = 1.0) -> float:
    """Median CPU inference time (seconds) of one batch, by :mod:`torch.utils.benchmark`.

    Args:
        batch: images per forward pass.
        threads: torch intra-op threads while timing (1 = a reproducible single-core figure).
        min_run_time: seconds of measurement (``blocked_autorange``).

    With one thread the clock is the timing thread's CPU time (:func:`time.thread_time`), so
    on a shared machine the time spent preempted by other processes is not counted; with more
    threads it is wall time.
    """
    import time
    import timeit

    from torch.utils import benchmark

    model = copy.deepcopy(model).cpu().eval()
    x = torch.randn(batch, *input_shape)
    clock = time.thread_time if threads == 1 else timeit.default_timer
    timer = benchmark.Timer(stmt="model(x)", globals={"model": model, "x": x},
                            num_threads=threads, setup="import torch", timer=clock)
    with torch.no_grad():
        return float(timer.blocked_autorange(min_run_time=min_run_time).median)


def compare_latency(original: nn.Module, models: Sequence[nn.Module],
                    input_shape: Sequence[int], *, batch: int = 32, min_run_time: float = 1.0,
                    rounds: int = 3) -> tuple[float, list[float]]:
    """CPU latency of ``original`` and each of ``models``, measured in interleaved rounds.

    Each round times the original, then every model (:func:`measure_latency`, one thread); a
    model's figure is its median over the rounds, so a burst of load on a shared machine moves
    one round, not one model's figure.

    Returns:
        ``(original seconds, [seconds per model])``.
    """
    check_int("rounds", rounds, 1)
    times: list[list[float]] = [[] for _ in range(len(models) + 1)]
    for _ in range(rounds):
        for i, m in enumerate([original, *models]):
            times[i].append(measure_latency(m, input_shape, batch=batch,
                                            min_run_time=min_run_time))
    med = [statistics.median(t) for t in times]
    return med[0], med[1:]


def stage_cycles(first: int, second: int, one_cycle: bool
                 ) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """The ``cycle=`` arguments of :func:`train_epochs` for two consecutive stages of
    ``first`` and ``second`` epochs: with ``one_cycle``, epochs ``0..first-1`` and
    ``first..first+second-1`` of one schedule cycle over both; else ``(None, None)`` (a cycle
    per stage)."""
    total = first + second
    return ((0, total), (first, total)) if one_cycle else (None, None)


def train_svd_stages(model: nn.Module, task: ImageTask, config: SVDTrainConfig,
                     *, stage1_done: bool = False,
                     checkpoint_dir: str | os.PathLike[str] | None = None) -> nn.Module:
    """Stages 1 and 2 in place: decompose ``model`` (unless already in SVD form), train with
    orthogonality only, then with the sparsity regularizer. Returns ``model``.

    Args:
        stage1_done: skip decomposition and stage 1 (``model`` is a stage-1 checkpoint shared
            between regularizer variants).
        checkpoint_dir: resume each stage from, and save it every epoch to,
            ``stage1.pt`` / ``stage2-<sparsity>.pt`` there (see :func:`train_epochs`).
    """
    c = config
    recipe = {"lr": c.lr, "batch_size": c.batch_size, "optimizer": c.optimizer,
              "schedule": c.schedule, "weight_decay": c.weight_decay,
              "precision": c.precision}
    a, b = c.epochs[0], c.epochs[1]
    span1, span2 = stage_cycles(a, b, c.one_cycle)
    where = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if not stage1_done:
        decompose(model, mode=c.mode, init=c.init, seed=c.seed)
        train_epochs(model, task, a, **recipe, cycle=span1,
                     regularizer=SVDRegularizer("none", 0.0, c.orth), seed=c.seed,
                     description="stage 1: orthogonality",
                     checkpoint=where / "stage1.pt" if where else None)
    train_epochs(model, task, b, **recipe, cycle=span2,
                 regularizer=SVDRegularizer(c.sparsity, c.strength, c.orth), seed=c.seed + 1,
                 description=f"stage 2: {c.sparsity}",
                 checkpoint=where / f"stage2-{c.sparsity}.pt" if where else None)
    return model


def prune_and_finetune(model: nn.Module, task: ImageTask, *, energy: float, epochs: int,
                       orth: float = 1.0, lr: float = 1e-3, batch_size: int = 128,
                       optimizer: str = "adam", weight_decay: float = 0.0, seed: int = 0,
                       checkpoint: str | os.PathLike[str] | None = None,
                       precision: str = "fp32",
                       ) -> tuple[nn.Module, dict[str, tuple[int, int]]]:
    """Stage 3 on a copy: prune ranks by ``energy``, fine-tune (orthogonality only, ``lr``
    decayed to 0 on a cosine; ``checkpoint`` and ``precision`` as in :func:`train_epochs`).

    Returns:
        ``(pruned SVD model, ranks)`` with ranks = layer -> ``(kept, full)``.
    """
    pruned = copy.deepcopy(model)
    prune_(pruned, energy)
    train_epochs(pruned, task, epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                 weight_decay=weight_decay, regularizer=SVDRegularizer("none", 0.0, orth),
                 schedule="cosine", seed=seed + 2, precision=precision,
                 description=f"stage 3: fine-tune E={energy:g}", checkpoint=checkpoint)
    return pruned, layer_ranks(pruned)


def compression_figures(original: nn.Module, deployed: nn.Module, input_shape: Sequence[int],
                        *, latency_batch: int = 32, latency: bool = True,
                        latency_time: float = 1.0) -> dict[str, float]:
    """FLOPs, parameters and (optionally) CPU latency of ``deployed`` against ``original``.

    Returns ``flops``, ``params``, ``flops_reduction`` (original / deployed), ``params_reduction``
    and, with ``latency``, ``latency_ms``, ``original_latency_ms``, ``latency_speedup``
    (each model timed for ``latency_time`` seconds, see :func:`measure_latency`).
    """
    f0, f1 = count_flops(original, input_shape), count_flops(deployed, input_shape)
    p0, p1 = count_params(original), count_params(deployed)
    out = {"flops": f1, "params": p1, "flops_reduction": f0 / f1, "params_reduction": p0 / p1}
    if latency:
        t0 = measure_latency(original, input_shape, batch=latency_batch,
                             min_run_time=latency_time)
        t1 = measure_latency(deployed, input_shape, batch=latency_batch,
                             min_run_time=latency_time)
        out.update(latency_ms=t1 * 1e3, original_latency_ms=t0 * 1e3, latency_speedup=t0 / t1)
    return out

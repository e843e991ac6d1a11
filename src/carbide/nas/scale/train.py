"""Training and scoring: supernet training (sandwich + in-place distillation), stand-alone
training, and evaluation with BN recalibration.

Two tasks share everything but the loss and the score:

* ``"seg"``: cross-entropy on logits upsampled to the image; score = mIoU (percent);
  distillation target = the largest subnet's softened class probabilities (KL divergence);
* ``"keypoints"``: MSE on stride-4 heatmaps (scaled by 1000, the usual HRNet magnitude);
  score = OKS AP (percent), PCK@0.2 reported too; distillation target = the largest subnet's
  heatmaps.

In-place distillation (BigNAS/ScaleNAS): in each step the largest subnet learns from the
labels and every other sampled subnet from the largest one's (detached) prediction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from .data import DenseDataset
from .metrics import confusion_matrix, heatmap_keypoints, miou_from_confusion, oks_ap, pck
from .space import ScaleArch
from .supernet import param_groups, recalibrate_bn

__all__ = ["TASKS", "TrainConfig", "evaluate", "task_loss", "train_model", "train_supernet"]

TASKS = ("seg", "keypoints")
_HM_SCALE = 1000.0


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise InvalidConfigError(f"unknown task {task!r}; choose one of {TASKS}")
    return task


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (Adam with cosine decay; small CPU budgets).

    Args:
        steps: optimiser steps.
        batch_size: images per step.
        lr: peak learning rate.
        weight_decay: on conv weights.
        distill: in-place distillation weight for non-largest subnets (supernet only; 0 turns
            it off and trains every subnet on the labels).
    """

    steps: int = 300
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    distill: float = 1.0

    def __post_init__(self) -> None:
        check_int("steps", self.steps, 1)
        check_int("batch_size", self.batch_size, 1)
        check_real("lr", self.lr, 0.0, 1.0, lo_open=True)
        check_real("weight_decay", self.weight_decay, 0.0, 1.0)
        check_real("distill", self.distill, 0.0, 100.0)


def _batches(n: int, batch_size: int, steps: int, seed: int) -> Iterator[torch.Tensor]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    pos = 0
    for _ in range(steps):
        if pos + batch_size > n:
            perm, pos = rng.permutation(n), 0
        yield torch.from_numpy(perm[pos:pos + batch_size].copy())
        pos += batch_size


def _targets(data: DenseDataset, idx, task: str) -> torch.Tensor:
    if task == "seg":
        if data.masks is None:
            raise InvalidConfigError(f"{data.source} data have no masks: use task='keypoints'")
        return data.masks[idx]
    return data.heatmaps[idx]


def task_loss(out: torch.Tensor, target: torch.Tensor, task: str,
              teacher: torch.Tensor | None = None) -> torch.Tensor:
    """Label loss, or distillation loss against ``teacher`` (same shape as ``out``)."""
    if task == "seg":
        if teacher is not None:
            return F.kl_div(F.log_softmax(out, 1), F.softmax(teacher, 1), reduction="batchmean"
                            ) / (out.shape[-1] * out.shape[-2])
        up = F.interpolate(out, size=target.shape[-2:], mode="bilinear", align_corners=False)
        return F.cross_entropy(up, target)
    ref = teacher if teacher is not None else target
    return F.mse_loss(out, ref) * _HM_SCALE / 10


def _optimizer(model: nn.Module, cfg: TrainConfig):
    opt = torch.optim.Adam(param_groups(model), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))
    return opt, sched


def train_model(model: nn.Module, data: DenseDataset, task: str, cfg: TrainConfig, *,
                seed: int = 0) -> dict[str, Any]:
    """Train a stand-alone network on the labels.

    Returns:
        ``{"loss": final loss (mean of the last 10 steps), "seconds", "steps"}``.
    """
    _check_task(task)
    torch.manual_seed(seed)
    model.train()
    opt, sched = _optimizer(model, cfg)
    losses = []
    t0 = time.perf_counter()
    for idx in _batches(len(data), cfg.batch_size, cfg.steps, seed):
        loss = task_loss(model(data.float_images(idx)), _targets(data, idx, task), task)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    if not math.isfinite(losses[-1]):
        raise InvalidConfigError(f"training diverged (loss {losses[-1]}); lower lr={cfg.lr}")
    return {"loss": float(np.mean(losses[-10:])), "seconds": time.perf_counter() - t0,
            "steps": cfg.steps}


def train_supernet(supernet: nn.Module, data: DenseDataset, task: str, sampler,
                   cfg: TrainConfig, *, seed: int = 0) -> dict[str, Any]:
    """Train the supernet: each step runs the sampler's subnets (largest first) and sums their
    gradients (sandwich rule); the largest learns from the labels, the others from it
    (in-place distillation, weight ``cfg.distill``) or from the labels when ``distill=0``.

    Args:
        supernet: a :class:`~carbide.nas.scale.supernet.ScaleNet` built with ``arch=None``.
        data: training data.
        task: ``"seg"`` or ``"keypoints"``.
        sampler: a :class:`~carbide.nas.scale.space.GroupedSampler` or ``UniformSampler``.
        cfg: optimisation settings.
        seed: batch order and init seed.

    Returns:
        ``{"loss": largest subnet's loss (last 10 steps), "seconds", "steps", "groups":
        {group name: times sampled}}``.
    """
    _check_task(task)
    torch.manual_seed(seed)
    supernet.train()
    opt, sched = _optimizer(supernet, cfg)
    losses, groups = [], {}
    t0 = time.perf_counter()
    for idx in _batches(len(data), cfg.batch_size, cfg.steps, seed):
        x = data.float_images(idx)
        y = _targets(data, idx, task)
        opt.zero_grad(set_to_none=True)
        teacher = None
        for name, arch in sampler.next():
            groups[name] = groups.get(name, 0) + 1
            out = supernet(x, arch)
            if name == "largest":
                loss = task_loss(out, y, task)
                teacher = out.detach()
                losses.append(float(loss.detach()))
            elif cfg.distill > 0 and teacher is not None:
                loss = cfg.distill * task_loss(out, y, task, teacher=teacher)
            else:
                loss = task_loss(out, y, task)
            loss.backward()
        opt.step()
        sched.step()
    if losses and not math.isfinite(losses[-1]):
        raise InvalidConfigError(f"supernet training diverged; lower lr={cfg.lr}")
    return {"loss": float(np.mean(losses[-10:])) if losses else float("nan"),
            "seconds": time.perf_counter() - t0, "steps": cfg.steps, "groups": groups}


@torch.no_grad()
def evaluate(model: nn.Module, data: DenseDataset, task: str, *, arch: ScaleArch | None = None,
             calib: DenseDataset | None = None, calib_images: int = 256,
             batch_size: int = 64, sigmas: float = 0.1) -> dict[str, float]:
    """Score a network (a stand-alone one, or the supernet's ``arch``).

    Args:
        model: the network.
        data: evaluation data.
        task: ``"seg"`` -> ``{"miou"}``; ``"keypoints"`` -> ``{"ap", "pck"}`` (percent).
        arch: the subnet, for the supernet.
        calib: training data for BN recalibration before scoring (ScaleNAS's protocol for
            weight-shared subnets); ``None``: use the running statistics as they are.
        calib_images: images used for recalibration (the first ``calib_images`` of ``calib``).
        batch_size: evaluation batch.
        sigmas: OKS sigma per keypoint.
    """
    _check_task(task)
    if calib is not None:
        n = min(calib_images, len(calib))
        recalibrate_bn(model, (calib.float_images(slice(s, min(s + batch_size, n)))
                               for s in range(0, n, batch_size)), arch)
    model.eval()
    outs = []
    for s in range(0, len(data), batch_size):
        x = data.float_images(slice(s, s + batch_size))
        out = model(x, arch) if arch is not None else model(x)
        if task == "seg":
            up = F.interpolate(out, size=data.size, mode="bilinear", align_corners=False)
            outs.append(confusion_matrix(up.argmax(1), data.masks[s:s + batch_size],
                                         data.num_classes))
        else:
            outs.append(heatmap_keypoints(out))
    if task == "seg":
        return {"miou": miou_from_confusion(torch.stack(outs).sum(0))}
    pred = torch.cat(outs)
    return {"ap": oks_ap(pred, data.keypoints, data.boxes, sigmas),
            "pck": pck(pred, data.keypoints, data.boxes)}

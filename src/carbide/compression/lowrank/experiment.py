"""SVD training applied to an image dataset: one validated config and one run function.

This is what ``carbide svdtrain train`` and the reproduction call; library users with their own
model and data use :func:`~carbide.compression.lowrank.decompose`,
:class:`~carbide.compression.lowrank.SVDRegularizer` and
:func:`~carbide.compression.lowrank.train_svd_stages` directly.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import asdict, dataclass
from typing import Any

from torch import nn

from ..._validate import check_int, check_real, int_list
from ...exceptions import InvalidConfigError
from ._decompose import INITS, compact
from ._layers import MODES
from .models import MODELS, build_model
from .regularizers import SPARSITY
from .train import (
    DATASETS,
    OPTIMIZERS,
    PRECISIONS,
    SCHEDULES,
    ImageTask,
    compression_figures,
    evaluate,
    load_image_task,
    prune_and_finetune,
    train_svd_stages,
)

__all__ = ["SVDTrainConfig", "record_svd_training", "run_svd_training"]


@dataclass
class SVDTrainConfig:
    """One SVD-training run (``carbide svdtrain train``).

    Attributes:
        model: ``"smallcnn"`` (default, quick) or ``"resnet20"`` (the paper's).
        dataset: ``"fashion-mnist"`` (default) or ``"cifar10"``.
        mode: conv decomposition, ``"channel"`` (default) or ``"spatial"``.
        sparsity: ``"hoyer"`` (default), ``"l1"``, ``"hoyer2"`` or ``"none"``.
        strength: ``lambda_s`` >= 0 (default 0.1, tuned for the short default schedule).
        orth: ``lambda_o`` >= 0 (default 1.0).
        energy: ``E`` in (0, 1): the energy share each layer may lose at pruning (default 0.02).
        epochs: ``(orth-only, with sparsity, fine-tune)`` epochs (default ``(4, 4, 2)``), or
            the same as a comma-separated string (``"4,4,2"``, as the CLI passes it).
        init: factor initialization, ``"random"`` (default: trained from scratch in SVD form) or
            ``"svd"``.
        lr: learning rate of stages 1-2 (default 1e-3; the peak with ``"onecycle"``).
        optimizer: ``"adam"`` (default) or ``"sgd"`` (Nesterov momentum 0.9).
        schedule: learning-rate schedule of stages 1-2: ``"constant"`` (default),
            ``"cosine"`` or ``"onecycle"`` (one cycle per stage, or one over both with
            ``one_cycle``).
        one_cycle: stages 1 and 2 share one ``schedule`` cycle over their summed epochs (the
            converged recipe; default ``False``). Needs ``"cosine"`` or ``"onecycle"``.
        precision: ``"fp32"`` (default) or ``"bf16"`` autocast while training (see
            :func:`~carbide.compression.lowrank.train_epochs`).
        weight_decay: optimizer weight decay (default 0; 5e-4 in the converged SGD recipe).
        finetune_lr: stage-3 learning rate, decayed to 0 on a cosine (default ``None``: ``lr``).
        batch_size: default 128.
        train_subset: train on this many images (class-balanced), ``None`` = all.
        latency_batch: batch size of the latency measurement (default 32, one thread).
        seed: seed of initialization, shuffling and augmentation.
        device: torch device of training (latency is always measured on CPU).
    """

    model: str = "smallcnn"
    dataset: str = "fashion-mnist"
    mode: str = "channel"
    sparsity: str = "hoyer"
    strength: float = 0.1
    orth: float = 1.0
    energy: float = 0.02
    epochs: tuple[int, int, int] = (4, 4, 2)
    init: str = "random"
    lr: float = 1e-3
    optimizer: str = "adam"
    schedule: str = "constant"
    weight_decay: float = 0.0
    finetune_lr: float | None = None
    one_cycle: bool = False
    precision: str = "fp32"
    batch_size: int = 128
    train_subset: int | None = None
    latency_batch: int = 32
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name, value, choices in (("model", self.model, MODELS),
                                     ("dataset", self.dataset, DATASETS),
                                     ("mode", self.mode, MODES),
                                     ("sparsity", self.sparsity, SPARSITY),
                                     ("init", self.init, INITS),
                                     ("optimizer", self.optimizer, OPTIMIZERS),
                                     ("schedule", self.schedule, SCHEDULES),
                                     ("precision", self.precision, PRECISIONS)):
            if value not in choices:
                raise InvalidConfigError(
                    f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")
        self.strength = check_real("strength", self.strength, 0.0, math.inf, hi_open=True)
        self.orth = check_real("orth", self.orth, 0.0, math.inf, hi_open=True)
        self.energy = check_real("energy", self.energy, 0.0, 1.0, lo_open=True, hi_open=True)
        self.lr = check_real("lr", self.lr, 0.0, math.inf, lo_open=True, hi_open=True)
        if self.finetune_lr is not None:
            self.finetune_lr = check_real("finetune_lr", self.finetune_lr, 0.0, math.inf,
                                          lo_open=True, hi_open=True)
        self.weight_decay = check_real("weight_decay", self.weight_decay, 0.0, math.inf,
                                       hi_open=True)
        epochs = (int_list("epochs", self.epochs, "orth-only, sparsity, fine-tune; such as 4,4,2")
                  if isinstance(self.epochs, str) else tuple(self.epochs))
        if len(epochs) != 3:
            raise InvalidConfigError(
                f"epochs takes three counts (orth-only, sparsity, fine-tune), got {self.epochs!r}")
        self.epochs = tuple(check_int(f"epochs[{i}]", e, 0) for i, e in enumerate(epochs))
        if self.one_cycle and self.schedule == "constant":
            raise InvalidConfigError(
                "one_cycle=True shares one learning-rate cycle over stages 1 and 2: give "
                "schedule \"onecycle\" or \"cosine\", not \"constant\"")
        check_int("batch_size", self.batch_size, 1)
        check_int("latency_batch", self.latency_batch, 1)
        check_int("seed", self.seed, 0)
        if self.train_subset is not None:
            check_int("train_subset", self.train_subset, 1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_svd_training(config: SVDTrainConfig, *, root: Any = None,
                     task: ImageTask | None = None) -> tuple[dict[str, Any], nn.Module]:
    """The whole recipe: three stages, compaction, figures.

    Returns:
        ``(row, deployed)``: ``row`` holds ``test_acc``, ``flops_reduction``,
        ``params_reduction``, ``latency_speedup``, ``ranks`` (layer -> ``[kept, full]``) and the
        other figures of :func:`compression_figures`; ``deployed`` is the compacted model
        (plain ``nn.Conv2d``/``nn.Linear`` layers).
    """
    from ...results import seed_everything

    c = config
    if task is None:
        task = load_image_task(c.dataset, root=root, train_subset=c.train_subset, seed=c.seed)
    seed_everything(c.seed)
    model = build_model(c.model, task.num_classes)
    if tuple(task.input_shape) != ((3, 32, 32) if c.model == "resnet20" else (1, 28, 28)):
        raise InvalidConfigError(
            f"model {c.model!r} does not take {c.dataset} images of shape {task.input_shape}; "
            "use resnet20 with cifar10 or smallcnn with fashion-mnist")
    original = copy.deepcopy(model)
    model.to(c.device)
    train_svd_stages(model, task, c)
    acc_before = evaluate(model, task.x_test, task.y_test)
    pruned, ranks = prune_and_finetune(model, task, energy=c.energy, epochs=c.epochs[2],
                                       orth=c.orth, lr=c.finetune_lr or c.lr,
                                       batch_size=c.batch_size, optimizer=c.optimizer,
                                       weight_decay=c.weight_decay, seed=c.seed,
                                       precision=c.precision)
    deployed = compact(pruned).cpu()
    row = {"test_acc": evaluate(pruned, task.x_test, task.y_test),
           "test_acc_before_prune": acc_before,
           **compression_figures(original, deployed, task.input_shape,
                                 latency_batch=c.latency_batch),
           "ranks": {k: list(v) for k, v in ranks.items()},
           "input_shape": list(task.input_shape)}
    return row, deployed


def record_svd_training(config: SVDTrainConfig, out: str | os.PathLike[str], *,
                        save_model: bool = False, root: Any = None) -> dict[str, Any]:
    """Run :func:`run_svd_training` and write the results contract into ``out``.

    Metrics: ``test_acc``, ``flops_reduction``, ``params_reduction``, ``latency_speedup`` and
    ``ranks``; ``report.md`` holds the row and the ranks per layer. With ``save_model`` the
    compacted model is also written as ``out/model.pt2`` (:func:`torch.export`; it loads with
    ``torch.export.load``, no carbide needed). Returns the results dict.
    """
    from ...results import Report, RunRecorder

    cfg = config
    recorder = RunRecorder(out, system="svdtrain", config=cfg.to_dict())
    row, deployed = run_svd_training(cfg, root=root)
    if save_model:
        from .export import export_model

        export_model(deployed, row["input_shape"], recorder.out / "model.pt2")
    metrics = {k: row[k] for k in ("test_acc", "flops_reduction", "params_reduction",
                                   "latency_speedup", "ranks")}
    table = [{k: v for k, v in row.items() if k not in ("ranks", "input_shape")}]
    ranks = [{"layer": k, "kept": v[0], "full": v[1]} for k, v in row["ranks"].items()]
    report = (Report(f"SVD training: {cfg.model} on {cfg.dataset}, {cfg.sparsity} "
                     f"(lambda_s={cfg.strength:g}), E={cfg.energy:g}")
              .table(table).heading("Ranks").table(ranks))
    return recorder.finish(metrics=metrics,
                           rows=[{k: v for k, v in row.items() if k != "input_shape"}],
                           report=report)

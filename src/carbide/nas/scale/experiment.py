"""One ScaleNAS run: data, supernet training, Pareto search, HRNet-like reference.

:class:`ScaleNASConfig` + :func:`run_scalenas` (what ``carbide scalenas search`` calls), and
:func:`train_arch` (``carbide scalenas train ARCH.json``: an architecture trained stand-alone
from scratch).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from .data import ComposedConfig, DenseDataset
from .space import ScaleArch, ScaleSpace
from .train import TASKS, TrainConfig

__all__ = ["QUICK_SEARCH", "ScaleNASConfig", "load_task_data", "run_scalenas", "search_to_dir",
           "train_arch", "train_to_dir"]


@dataclass(frozen=True)
class ScaleNASConfig:
    """A ScaleNAS search.

    Args:
        task: ``"seg"`` (mIoU) or ``"keypoints"`` (OKS AP).
        data: ``"composed"``, ``"folder:PATH"`` (images/ + masks/) or ``"coco:PATH"`` (COCO
            keypoint JSON).
        composed: the composed task (when ``data="composed"``; default 96x96 canvases with
            the 6 coarse classes, as minutes of CPU training do not learn 21 fine ones).
        n_train, n_val: composed canvases per split (user data: 80/20 split of the files).
        num_classes: classes of ``folder:`` data (background included).
        image_size: resize user data to this side (multiple of 32).
        space: the search space.
        supernet: supernet training.
        sampler: ``"grouped"`` (ScaleNAS) or ``"uniform"`` (the ablation).
        search_budget: subnets evaluated by the evolution.
        population: evolution population.
        flops_budget: GFLOPs per image the found nets must fit, or ``None``.
        hrnet: stand-alone training of the HRNet-like reference (``None``: skip it).
        calib_images: BN recalibration images before each score.
        seed: everything's seed.
    """

    task: str = "seg"
    data: str = "composed"
    composed: ComposedConfig = field(
        default_factory=lambda: ComposedConfig(size=96, labels="coarse"))
    n_train: int = 3000
    n_val: int = 300
    num_classes: int | None = None
    image_size: int = 64
    space: ScaleSpace = field(default_factory=ScaleSpace)
    supernet: TrainConfig = field(default_factory=lambda: TrainConfig(steps=600))
    sampler: str = "grouped"
    search_budget: int = 48
    population: int = 16
    flops_budget: float | None = None
    hrnet: TrainConfig | None = field(default_factory=lambda: TrainConfig(steps=600))
    calib_images: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InvalidConfigError(f"unknown task {self.task!r}; choose one of {TASKS}")
        if not (self.data == "composed" or self.data.startswith(("folder:", "coco:"))):
            raise InvalidConfigError(
                f"data must be 'composed', 'folder:PATH' or 'coco:PATH', got {self.data!r}")
        if self.data.startswith("folder:") and self.task != "seg":
            raise InvalidConfigError("folder: data hold segmentation masks: use --task seg")
        if self.data.startswith("coco:") and self.task != "keypoints":
            raise InvalidConfigError("coco: data hold keypoints: use --task keypoints")
        if self.data.startswith("folder:") and self.num_classes is None:
            raise InvalidConfigError("folder: data need num_classes (background included)")
        check_int("n_train", self.n_train, 1)
        check_int("n_val", self.n_val, 1)
        check_int("search_budget", self.search_budget, 1)
        check_int("population", self.population, 2)
        if self.search_budget < self.population:
            raise InvalidConfigError(
                f"search_budget ({self.search_budget}) must be at least population "
                f"({self.population})")
        if self.sampler not in ("grouped", "uniform"):
            raise InvalidConfigError(f"sampler must be 'grouped' or 'uniform', got "
                                     f"{self.sampler!r}")
        if self.flops_budget is not None:
            check_real("flops_budget", self.flops_budget, 0.0, 1e6, lo_open=True)
        check_int("calib_images", self.calib_images, 1)
        check_int("seed", self.seed, 0)


#: A search small enough for a couple of minutes on 2 cores (``--quick``).
QUICK_SEARCH = dict(composed=ComposedConfig(size=64, labels="coarse"), n_train=600, n_val=150,
                    space=ScaleSpace(width=8, depth_range=(1, 3)),
                    supernet=TrainConfig(steps=80), search_budget=12, population=6,
                    hrnet=TrainConfig(steps=80), calib_images=128)


def load_task_data(config: ScaleNASConfig, root: str | os.PathLike[str] | None = None
                   ) -> tuple[DenseDataset, DenseDataset, int]:
    """``(train, val, out_channels)`` for the config's data and task."""
    from .data import compose_dataset, load_coco_keypoints, load_folder_segmentation

    if config.data == "composed":
        train = compose_dataset(config.n_train, "train", config.composed, seed=config.seed,
                                root=root)
        val = compose_dataset(config.n_val, "val", config.composed, seed=config.seed,
                              root=root)
    else:
        kind, _, path = config.data.partition(":")
        if kind == "folder":
            full = load_folder_segmentation(path, config.num_classes, size=config.image_size)
        else:
            full = load_coco_keypoints(path, size=config.image_size)
        import torch

        g = torch.Generator().manual_seed(config.seed)
        perm = torch.randperm(len(full), generator=g)
        n_val = max(1, len(full) // 5)
        if len(full) < 2:
            raise InvalidConfigError(f"{config.data} has {len(full)} sample(s); need >= 2")
        train, val = full.subset(perm[n_val:]), full.subset(perm[:n_val])
    out = train.num_classes if config.task == "seg" else train.keypoints.shape[1]
    return train, val, out


def run_scalenas(config: ScaleNASConfig, root: str | os.PathLike[str] | None = None, *,
                 data: tuple[DenseDataset, DenseDataset, int] | None = None,
                 progress: bool = False) -> dict[str, Any]:
    """Train a supernet, search it, score the HRNet-like reference.

    Args:
        config: the search.
        root: data root (composed data).
        data: pre-loaded ``(train, val, out_channels)`` (skips loading).
        progress: progress bar for the search.

    Returns:
        ``{"pareto": [{"arch", "flops", "miou"|"ap", ...}], "history": [...],
        "best_score", "best_flops", "hrnet_score", "hrnet_flops", "supernet": {...},
        "score_name", "supernet_model", "flops_fn", "train", "val"}`` (FLOPs in FLOPs).

    Raises:
        InvalidConfigError: the FLOPs budget is below the space's smallest subnet (before any
            training starts), or bad data.
    """
    import torch

    from ..search import run_search
    from .search import ParetoEvolution, SupernetEvaluator, check_budget, pareto_front
    from .space import make_sampler
    from .supernet import FlopsTable, ScaleNet, count_flops
    from .train import evaluate, train_model, train_supernet

    torch.manual_seed(config.seed)
    train, val, out = data if data is not None else load_task_data(config, root)
    size = train.size
    supernet = ScaleNet(config.space, out)
    flops = FlopsTable(supernet, size)
    budget = None if config.flops_budget is None else config.flops_budget * 1e9
    check_budget(budget, flops(config.space.smallest()))
    score_name = "miou" if config.task == "seg" else "ap"

    sampler = make_sampler(config.sampler, config.space, seed=config.seed)
    sup = train_supernet(supernet, train, config.task, sampler, config.supernet,
                         seed=config.seed)
    evaluator = SupernetEvaluator(supernet, val, train, config.task, flops,
                                  calib_images=config.calib_images)
    strategy = ParetoEvolution(config.space, flops, budget, population=config.population,
                               seed=config.seed)
    history = run_search(strategy, evaluator, config.search_budget, progress=progress)
    items = []
    for arch, rec in zip(history.cells, history.records, strict=True):
        ev = evaluator.evaluate(arch)
        items.append({"arch": arch.to_dict(), "flops": int(rec["flops"]),
                      score_name: float(rec["val_acc"]), **{k: v for k, v in ev.extra.items()
                                                          if k != score_name},
                      "density": arch.fusion_density()})
    front = pareto_front(items, score_name)
    best = max(front, key=lambda it: it[score_name])

    result: dict[str, Any] = {
        "pareto": front, "history": items, "score_name": score_name,
        "best_score": best[score_name], "best_flops": best["flops"], "best_arch": best["arch"],
        "supernet": {k: v for k, v in sup.items()}, "supernet_model": supernet,
        "flops_fn": flops, "train": train, "val": val, "out_channels": out,
        "hrnet_score": None, "hrnet_flops": None,
    }
    if config.hrnet is not None:
        hr = ScaleNet(config.space, out, config.space.largest())
        fit = train_model(hr, train, config.task, config.hrnet, seed=config.seed)
        result["hrnet_score"] = evaluate(hr, val, config.task)[score_name]
        result["hrnet_flops"] = count_flops(hr, size)
        result["hrnet_train"] = fit
    return result


def train_arch(arch: ScaleArch, config: ScaleNASConfig, root=None, *,
               steps: TrainConfig | None = None) -> dict[str, Any]:
    """Train ``arch`` stand-alone from scratch on the config's data and score it on val.

    Returns:
        ``{"score_name", "score", "flops", "params", "train": {...}, "model"}``.
    """
    from .supernet import ScaleNet, count_flops, count_params
    from .train import evaluate, train_model

    config.space.validate(arch)
    train, val, out = load_task_data(config, root)
    net = ScaleNet(config.space, out, arch)
    fit = train_model(net, train, config.task, steps or config.supernet, seed=config.seed)
    name = "miou" if config.task == "seg" else "ap"
    scores = evaluate(net, val, config.task)
    return {"score_name": name, "score": scores[name], "scores": scores,
            "flops": count_flops(net, train.size), "params": count_params(net), "train": fit,
            "model": net}


def _front_entries(front, score_name: str) -> list[dict[str, Any]]:
    return [{"arch": f["arch"], "flops": f["flops"], score_name: f[score_name]} for f in front]


def search_to_dir(config: ScaleNASConfig, out: str | os.PathLike[str], root=None, *,
                  progress: bool = False) -> dict[str, Any]:
    """:func:`run_scalenas` and the results contract in ``out``: ``pareto.json`` (a list of
    ``{"arch", "flops", "miou"|"ap"}``, FLOPs per image), ``best_arch.json``, ``supernet.pt``,
    ``results.json`` (metrics ``best_<score>``, ``best_flops``, ``hrnet_<score>``,
    ``hrnet_flops``) and ``report.md``.

    The FLOPs budget is checked before any data is loaded or trained.
    """
    import json
    from pathlib import Path

    import torch

    from ..._io import atomic_path, atomic_write
    from ...results import Report, RunRecorder
    from .search import check_budget
    from .supernet import FlopsTable, ScaleNet

    if config.flops_budget is not None:  # fail fast: a budget no subnet meets
        side = config.composed.size if config.data == "composed" else config.image_size
        probe = ScaleNet(config.space, 1)
        check_budget(config.flops_budget * 1e9,
                     FlopsTable(probe, (side, side))(config.space.smallest()))
    recorder = RunRecorder(out, system="scalenas", config=config)
    res = run_scalenas(config, root, progress=progress)
    name = res["score_name"]
    out = Path(out)
    with atomic_write(out / "pareto.json") as fh:
        fh.write(json.dumps(_front_entries(res["pareto"], name), indent=1) + "\n")
    with atomic_write(out / "best_arch.json") as fh:
        fh.write(json.dumps(res["best_arch"], indent=1) + "\n")
    with atomic_path(out / "supernet.pt") as tmp:
        torch.save(res["supernet_model"].state_dict(), tmp)
    metrics = {f"best_{name}": res["best_score"], "best_flops": res["best_flops"],
               f"hrnet_{name}": res["hrnet_score"], "hrnet_flops": res["hrnet_flops"],
               "pareto_size": len(res["pareto"]), "evaluated": len(res["history"]),
               "supernet_seconds": res["supernet"]["seconds"]}
    source = res["train"].source
    label = "composed" if source == "composed" else source
    report = (Report(f"ScaleNAS search: {config.task} on {label} data")
              .paragraph(f"Supernet ({config.sampler} sampling, {config.supernet.steps} steps) "
                         f"searched by FLOPs/{name} evolution ({config.search_budget} subnets, "
                         f"inherited weights, BN recalibrated on {config.calib_images} training "
                         f"images); scores on the validation split.")
              .table([{"arch": " / ".join("".join(map(str, m["depths"]))
                                          for m in f["arch"]["modules"]),
                       "MFLOPs": f["flops"] / 1e6, name: f[name]} for f in res["pareto"]],
                     caption="Pareto front (depths per branch, per module)")
              .table([metrics]))
    rows = [{k: v for k, v in it.items() if k != "arch"} for it in res["history"]]
    return recorder.finish(metrics=metrics, rows=rows, report=report)


def train_to_dir(arch_path: str | os.PathLike[str], config: ScaleNASConfig,
                 out: str | os.PathLike[str], root=None) -> dict[str, Any]:
    """:func:`train_arch` on the architecture JSON at ``arch_path`` (validated against the
    config's space), writing ``model.pt`` and the results contract (metrics ``score`` name,
    ``flops``, ``params``) into ``out``."""
    from pathlib import Path

    import torch

    from ..._io import atomic_path
    from ...results import Report, RunRecorder
    from .space import load_arch

    arch = load_arch(arch_path, config.space)
    recorder = RunRecorder(out, system="scalenas", config={"arch": str(arch_path),
                                                          "config": config})
    res = train_arch(arch, config, root)
    with atomic_path(Path(out) / "model.pt") as tmp:
        torch.save(res["model"].state_dict(), tmp)
    metrics = {**{k: float(v) for k, v in res["scores"].items()}, "flops": res["flops"],
               "params": res["params"], "train_seconds": res["train"]["seconds"]}
    report = (Report(f"ScaleNet trained from scratch ({config.task})")
              .paragraph(f"{arch_path}: {config.supernet.steps} steps on {config.data} data; "
                         "validation scores.").table([metrics]))
    return recorder.finish(metrics=metrics, rows=[metrics], report=report)

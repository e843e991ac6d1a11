"""ScaleNAS: one-shot multi-scale supernet search for dense prediction (Cheng et al.,
"ScaleNAS: One-Shot Learning of Scale-Aware Representations for Visual Recognition",
arXiv 2011.14584; official code supernashg/AutoRecist_ScaleNAS_versions, read, not copied).

- :mod:`.space`: HRNet-like search space (2/3/4-branch stages, widths W..8W, per-branch
  depth, per-block fusion bits), architectures as JSON, grouped (sandwich) and uniform samplers.
- :mod:`.supernet`: :class:`ScaleNet`, the weight-sharing supernet and stand-alone subnets
  (:meth:`ScaleNet.export`), BN recalibration, FLOPs (:func:`count_flops`, :class:`FlopsTable`).
- :mod:`.data`: the composed multi-scale task (Fashion-MNIST/CIFAR-10 objects pasted at
  0.5x-3x) and loaders for a user's own data (image folder + PNG masks, COCO keypoints).
- :mod:`.metrics`: mIoU (torchmetrics), PCK, OKS AP (pycocotools).
- :mod:`.train`: supernet training with the sandwich rule and in-place distillation;
  stand-alone training; scoring.
- :mod:`.search`: :class:`ParetoEvolution` (an ask/tell :class:`carbide.nas.Strategy`),
  :class:`SupernetEvaluator`, Pareto helpers.
- :mod:`.baselines`: HRNet-like nets and a U-Net-like net at matched FLOPs.
- :mod:`.experiment`: :class:`ScaleNASConfig`, :func:`run_scalenas`; :mod:`.repro`.

Names load lazily, so ``import carbide.nas.scale`` stays light.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_LAZY = {
    "DENSITIES": ".space",
    "GroupedSampler": ".space",
    "ModuleArch": ".space",
    "ScaleArch": ".space",
    "ScaleSpace": ".space",
    "UniformSampler": ".space",
    "depth_groups": ".space",
    "load_arch": ".space",
    "make_sampler": ".space",
    "save_arch": ".space",
    "BasicBlock": ".supernet",
    "FlopsTable": ".supernet",
    "ScaleNet": ".supernet",
    "count_flops": ".supernet",
    "count_params": ".supernet",
    "recalibrate_bn": ".supernet",
    "ComposedConfig": ".data",
    "DenseDataset": ".data",
    "KEYPOINT_NAMES": ".data",
    "compose_dataset": ".data",
    "keypoint_heatmaps": ".data",
    "load_coco_keypoints": ".data",
    "load_folder_segmentation": ".data",
    "heatmap_keypoints": ".metrics",
    "miou": ".metrics",
    "oks_ap": ".metrics",
    "pck": ".metrics",
    "TASKS": ".train",
    "TrainConfig": ".train",
    "evaluate": ".train",
    "train_model": ".train",
    "train_supernet": ".train",
    "ParetoEvolution": ".search",
    "SupernetEvaluator": ".search",
    "check_budget": ".search",
    "pareto_front": ".search",
    "UNetLike": ".baselines",
    "hrnet_like": ".baselines",
    "unet_matched": ".baselines",
    "QUICK_SEARCH": ".experiment",
    "ScaleNASConfig": ".experiment",
    "load_task_data": ".experiment",
    "run_scalenas": ".experiment",
    "search_to_dir": ".experiment",
    "train_arch": ".experiment",
    "train_to_dir": ".experiment",
    "ReproPlan": ".repro",
    "run_repro": ".repro",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

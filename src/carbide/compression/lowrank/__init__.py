"""SVD training: low-rank networks learned during training (arXiv 2004.09031).

Keep each ``nn.Conv2d``/``nn.Linear`` as ``U diag(s) V^T`` (:func:`decompose`), train with an
orthogonality regularizer on ``U``, ``V`` and a sparsity regularizer on ``s``
(:class:`SVDRegularizer`), prune ranks by energy (:func:`prune_`) and export plain layers
(:func:`compact`; for CPU inference :func:`deploy`: factorize a layer only where
it pays, fold batch norms, channels-last). Names load lazily (``import carbide`` stays light).
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_LAZY = {
    "MODES": "._layers",
    "SVDConv2d": "._layers",
    "SVDLinear": "._layers",
    "SVDModule": "._layers",
    "INITS": "._decompose",
    "DecomposeReport": "._decompose",
    "compact": "._decompose",
    "decompose": "._decompose",
    "energy_rank": "._decompose",
    "layer_ranks": "._decompose",
    "prune_": "._decompose",
    "svd_layers": "._decompose",
    "SPARSITY": ".regularizers",
    "SVDRegularizer": ".regularizers",
    "orthogonality_loss": ".regularizers",
    "sparsity_loss": ".regularizers",
    "count_flops": ".flops",
    "count_params": ".flops",
    "flops_by_module": ".flops",
    "MODELS": ".models",
    "CifarResNet": ".models",
    "SmallBNCNN": ".models",
    "build_model": ".models",
    "resnet20": ".models",
    "prune_filters": ".baselines",
    "prune_filters_to_flops": ".baselines",
    "truncate_svd": ".baselines",
    "truncate_svd_to_flops": ".baselines",
    "DATASETS": ".train",
    "OPTIMIZERS": ".train",
    "SCHEDULES": ".train",
    "ImageTask": ".train",
    "SVDTrainConfig": ".experiment",
    "record_svd_training": ".experiment",
    "compare_latency": ".train",
    "compression_figures": ".train",
    "evaluate": ".train",
    "load_image_task": ".train",
    "measure_latency": ".train",
    "prune_and_finetune": ".train",
    "run_svd_training": ".experiment",
    "train_epochs": ".train",
    "train_svd_stages": ".train",
    "stage_cycles": ".train",
    "run_repro": ".repro",
    "ReproPlan": ".repro",
    "export_model": ".export",
    "FACTORIZE": ".export",
    "LatencyCache": ".export",
    "deploy": ".export",
    "factorize_decisions": ".export",
    "fastest_call": ".export",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

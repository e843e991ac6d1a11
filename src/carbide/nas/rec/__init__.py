"""NASRec: weight-sharing neural architecture search for click-through-rate models (Zhang,
Cheng, Li, Chen et al., "NASRec: Weight Sharing Neural Architecture Search for Recommender
Systems", WWW 2023, arXiv 2207.07187; official code facebookresearch/NasRec).

- :mod:`.data`: :class:`TabularCTR` (``from_dataframe`` for a user's own table: ids with an
  OOV bucket, log1p-standardized dense values, multi-hot bags, stratified 8/1/1 split with seed
  2018, hashing cap), streaming Criteo/Avazu readers;
- :mod:`.space`: NASRec-Full / NASRec-Small (:func:`make_rec_space`), :class:`RecArch` JSON;
- :mod:`.supernet`: :func:`RecSupernet` (index run, masked run-everything, the warm-up's full
  supernet) and :func:`export_subnet` (a plain ``nn.Module``);
- :mod:`.train`: training recipe, supernet training with single-operator any-connection
  sampling and the full-supernet warm-up, :class:`SupernetEvaluator` (inherited weights after
  last-layer fine-tuning) for :func:`carbide.nas.search.run_search`;
- :mod:`.baselines`: LR, FM, DeepFM, DLRM, DCN-v2, and deepctr-torch's DeepFM as a peer;
- :mod:`.experiment`: :func:`run_nasrec` (search + retrain + baselines), :func:`train_arch`,
  :func:`rank_correlation`; :mod:`.repro`: ``carbide nasrec repro``.

Names load lazily, so ``import carbide.nas.rec`` stays light.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_LAZY = {
    "TabularCTR": ".data",
    "read_criteo": ".data",
    "read_avazu": ".data",
    "infer_roles": ".data",
    "RecArch": ".space",
    "RecBlock": ".space",
    "RecSpace": ".space",
    "make_rec_space": ".space",
    "RecSupernet": ".supernet",
    "export_subnet": ".supernet",
    "TrainConfig": ".train",
    "SupernetEvaluator": ".train",
    "full_path_probability": ".train",
    "train_model": ".train",
    "train_supernet": ".train",
    "evaluate_model": ".train",
    "binary_auc": ".train",
    "count_flops": ".train",
    "BASELINES": ".baselines",
    "build_baseline": ".baselines",
    "deepctr_deepfm": ".baselines",
    "NASRecConfig": ".experiment",
    "load_ctr": ".experiment",
    "run_nasrec": ".experiment",
    "train_arch": ".experiment",
    "rank_correlation": ".experiment",
    "search_to_dir": ".experiment",
    "train_to_dir": ".experiment",
    "trained_supernet": ".experiment",
    "ReproPlan": ".repro",
    "run_repro": ".repro",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

"""NASGEM: neural architecture search via graph embedding (Cheng et al., "NASGEM: Neural
Architecture Search via Graph Embedding Method", AAAI 2021, arXiv 2007.04452).

No official code exists; this package is **the agreed reconstruction** of the paper's
mechanics:

- :mod:`.wl`: the Weisfeiler-Lehman subtree kernel over labelled DAGs (checked against
  grakel), the similarity that supervises the encoder.
- :mod:`.encoder`: a GIN-style graph encoder (plain torch, dense batched) trained on pairs of
  unlabelled cells so that the cosine similarity of two embeddings regresses their normalized
  WL kernel; the flattened adjacency + op one-hot baseline encoding; embedding quality
  (Spearman/Kendall on held-out pairs).
- :mod:`.predictor`: an MLP ensemble predicting accuracy from embeddings, with an efficiency
  term (``score = predicted accuracy - lambda * normalized cost``, ``lambda = 0`` by default).
- :mod:`.search`: :class:`NASGEM`, the bootstrap search as an ask/tell strategy of
  :mod:`carbide.nas.strategies` (sample many cells, score them, evaluate the top-k, retrain,
  repeat until the budget is spent); run it with :func:`carbide.nas.search.run_search`.
- :mod:`.baselines`: the BANANAS path encoding and a GCN predictor (Wen et al.), the
  encodings the embedding is measured against; :mod:`.study`: predictor quality against
  training-set size for every encoding.
- :mod:`.experiment`: embedding-quality and strategy-comparison experiments;
  :mod:`.repro`: the reproduction (``carbide nasgem repro``).

Names load lazily, so ``import carbide.nas.gem`` stays light.
"""

from __future__ import annotations

from ..._lazy import lazy_exports

_LAZY = {
    "STRATEGIES": ".experiment",
    "ComparisonResult": ".experiment",
    "build_strategy": ".experiment",
    "compare_strategies": ".experiment",
    "distinct_cells": ".experiment",
    "embedding_experiment": ".experiment",
    "curve_figure": ".experiment",
    "load_benchmark": ".experiment",
    "run_embedding": ".experiment",
    "run_strategy_search": ".experiment",
    "ReproPlan": ".repro",
    "METHODS": ".study",
    "BenchmarkPool": ".study",
    "benchmark_pool": ".study",
    "predictor_study": ".study",
    "GCNConfig": ".baselines",
    "GCNPredictor": ".baselines",
    "input_output_paths": ".baselines",
    "path_encoding": ".baselines",
    "render": ".repro",
    "run_plan": ".repro",
    "run_repro": ".repro",
    "NASGEM": ".search",
    "NASGEMConfig": ".search",
    "candidate_pool": ".search",
    "pool_views": ".search",
    "AccuracyPredictor": ".predictor",
    "PredictorConfig": ".predictor",
    "efficiency_score": ".predictor",
    "rank_correlation": ".predictor",
    "EncoderConfig": ".encoder",
    "GINEncoder": ".encoder",
    "GraphEncoder": ".encoder",
    "batch_graphs": ".encoder",
    "embedding_similarity_quality": ".encoder",
    "onehot_encoding": ".encoder",
    "op_vocabulary": ".encoder",
    "train_encoder": ".encoder",
    "DIRECTIONS": ".wl",
    "as_graph": ".wl",
    "wl_features": ".wl",
    "wl_kernel": ".wl",
    "wl_labels": ".wl",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

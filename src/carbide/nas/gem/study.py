"""Predictor quality against training-set size: NASGEM's embedding vs other encodings.

NASGEM's thesis (arXiv 2007.04452) is that WL-kernel-trained graph embeddings make a better
input for an architecture-performance predictor than continuous encodings. This module
measures it on a tabular benchmark: for each seed, a fixed set of held-out cells is set aside,
predictors are trained on nested random training sets of growing size (10, 20, ... cells),
and the Spearman and Kendall rank correlations of their predictions with the table's accuracy
on the held-out cells are recorded, for

* ``"wl"``: NASGEM: the :class:`~carbide.nas.gem.predictor.AccuracyPredictor` (MLP ensemble)
  on embeddings of a :class:`~carbide.nas.gem.encoder.GINEncoder` trained on WL similarity of
  unlabelled cells of the benchmark (no accuracy seen; cells drawn from the whole table, the
  held-out ones included, as NASGEM pre-trains on the space it searches);
* ``"onehot"``: the same MLP on the flattened adjacency + op one-hot encoding;
* ``"path"``: the same MLP on the BANANAS path encoding (:func:`.baselines.path_encoding`);
* ``"gcn"``: a GCN trained end to end on the training cells (:class:`.baselines.GCNPredictor`).

Cells are the networks they compute (:func:`~carbide.nas.gem.search.network`: pruned of nodes
off every input-output path), the view NASGEM's search embeds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validate import check_int
from ...exceptions import InvalidConfigError
from .baselines import GCNConfig, GCNPredictor, path_encoding
from .encoder import EncoderConfig, onehot_encoding, train_encoder
from .predictor import AccuracyPredictor, PredictorConfig, rank_correlation
from .search import pool_views

__all__ = ["METHODS", "BenchmarkPool", "benchmark_pool", "predictor_study"]

#: Predictor inputs of :func:`predictor_study` (see the module docstring).
METHODS = ("wl", "onehot", "path", "gcn")


@dataclass
class BenchmarkPool:
    """Every cell of a tabular benchmark with its accuracy.

    Attributes:
        name: ``"nb201"`` or ``"nb101"``.
        cells: the networks (:func:`~carbide.nas.gem.search.network` views), table order.
        acc: ``(len(cells),)`` validation accuracy (%).
        params_m: ``(len(cells),)`` parameters in millions (NB201 ``model_size``, NB101
            ``params``).
        keys: table keys, same order.
        ops: node vocabulary with ``input``/``output`` (one-hot and GIN order).
        interior_ops: the ops of interior nodes (the path encoding's alphabet).
        max_nodes: nodes of the largest cell (the one-hot padding).
    """

    name: str
    cells: list
    acc: np.ndarray
    params_m: np.ndarray
    keys: list[str]
    ops: tuple[str, ...]
    interior_ops: tuple[str, ...]
    max_nodes: int


def benchmark_pool(name: str, bench: Any) -> BenchmarkPool:
    """The :class:`BenchmarkPool` of a loaded NAS-Bench-201 or NAS-Bench-101 table.

    Raises:
        InvalidConfigError: ``name`` is not ``"nb201"`` or ``"nb101"``.
    """
    from ..spaces import make_space

    if name not in ("nb201", "nb101"):
        raise InvalidConfigError(f"benchmark must be 'nb201' or 'nb101', got {name!r}")
    space = make_space(name, bench=bench)
    pool, views, _ = pool_views(space)
    acc, params = [], []
    for c in pool:
        q = bench.query(c.arch)
        acc.append(q["val_acc"])
        params.append(q["model_size"] if name == "nb201" else q["params"])
    interior = tuple(dict.fromkeys((*space.ops, *(op for v in views for op in v.ops[1:-1]))))
    ops = ("input", "output", *interior)
    return BenchmarkPool(name=name, cells=views, acc=np.asarray(acc, float),
                         params_m=np.asarray(params, float), keys=[str(c.arch) for c in pool],
                         ops=ops, interior_ops=interior,
                         max_nodes=max(v.num_nodes for v in views))


def predictor_study(
    pool: BenchmarkPool,
    *,
    sizes: Sequence[int] = (10, 20, 50, 100, 200, 400),
    seed: int = 0,
    test_size: int = 2000,
    methods: Sequence[str] = METHODS,
    encoder: EncoderConfig | None = None,
    encoder_cells: int = 1000,
    predictor: PredictorConfig | None = None,
    gcn: GCNConfig | None = None,
) -> list[dict[str, Any]]:
    """One seed of the predictor-quality study (see the module docstring).

    Args:
        pool: the benchmark (:func:`benchmark_pool`).
        sizes: training-set sizes; the sets are nested (the first ``n`` of one random order).
        seed: seeds the split, the encoder and every predictor.
        test_size: held-out cells (disjoint from every training set; at most
            ``len(pool.cells) - max(sizes)``).
        methods: names from :data:`METHODS`.
        encoder: :class:`EncoderConfig` of the WL-trained encoder (``"wl"``).
        encoder_cells: unlabelled cells it trains on (at most the table's size).
        predictor: :class:`PredictorConfig` of the MLP on ``wl``/``onehot``/``path``.
        gcn: :class:`GCNConfig` of ``"gcn"``.

    Returns:
        One row per (method, size): ``method, train_size, seed, spearman, kendall, test_size,
        fit_s`` (plus ``encoder_s`` and ``encoder_loss`` on the ``wl`` rows).
    """
    check_int("seed", seed, 0)
    check_int("test_size", test_size, 2)
    check_int("encoder_cells", encoder_cells, 2)
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise InvalidConfigError(f"unknown method(s) {bad or methods!r}; choose from "
                                 f"{list(METHODS)}")
    sizes = tuple(sizes)
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 2 for n in sizes):
        raise InvalidConfigError(f"sizes must be integers >= 2, got {sizes!r}")
    total = len(pool.cells)
    if test_size + max(sizes) > total:
        raise InvalidConfigError(
            f"{pool.name} has {total} cells: test_size={test_size} + largest training set "
            f"{max(sizes)} do not fit; lower one of them"
        )
    enc_cfg = encoder or EncoderConfig()
    pred_cfg = predictor or PredictorConfig()
    rng = np.random.default_rng([seed, 2])
    order = rng.permutation(total)
    test, train_order = order[:test_size], order[test_size:]
    acc = pool.acc
    feats: dict[str, np.ndarray] = {}
    extra: dict[str, dict[str, Any]] = {m: {} for m in methods}
    if "wl" in methods:
        pick = np.random.default_rng([seed, 3]).choice(total, min(encoder_cells, total),
                                                       replace=False)
        t0 = time.perf_counter()
        enc = train_encoder([pool.cells[i] for i in pick], pool.ops, enc_cfg, seed=seed,
                            show_progress=False)
        extra["wl"] = {"encoder_s": time.perf_counter() - t0,
                       "encoder_loss": enc.history[-1] if enc.history else None}
        feats["wl"] = enc.embed(pool.cells)
    if "onehot" in methods:
        feats["onehot"] = onehot_encoding(pool.cells, pool.ops, pool.max_nodes)
    if "path" in methods:
        feats["path"] = path_encoding(pool.cells, pool.interior_ops)
    rows = []
    for n in sizes:
        train = train_order[:n]
        for method in methods:
            t0 = time.perf_counter()
            if method == "gcn":
                model = GCNPredictor(pool.ops, gcn, seed=seed).fit(
                    [pool.cells[i] for i in train], acc[train])
                pred = model.predict([pool.cells[i] for i in test])
            else:
                x = feats[method]
                model = AccuracyPredictor(pred_cfg, seed=seed).fit(x[train], acc[train])
                pred = model.predict(x[test])
            corr = rank_correlation(pred, acc[test])
            rows.append({"method": method, "train_size": int(n), "seed": int(seed), **corr,
                         "test_size": int(test_size), "fit_s": time.perf_counter() - t0,
                         **extra[method]})
    return rows

"""Experiments behind ``carbide nasgem``: embedding quality and strategy comparisons.

Public functions the CLI and the reproduction call (each usable from Python with any space,
benchmark and settings):

* :func:`load_benchmark`: the table for a space name (``nb201``/``nb101``; none for
  ``cell:N``), from a given file or the shipped dataset.
* :func:`embedding_experiment`: train the WL-similarity encoder on cells of a space and
  measure Spearman/Kendall between embedding cosine and the WL kernel on held-out pairs,
  beside the one-hot baseline.
* :func:`compare_strategies`: NASGEM, regularized evolution and random search at equal query
  budgets over several seeds: best validation accuracy and regret curves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._validate import check_int
from ...exceptions import InvalidConfigError
from .encoder import EncoderConfig, embedding_similarity_quality, onehot_encoding, train_encoder
from .search import NASGEM, NASGEMConfig, candidate_pool

__all__ = [
    "STRATEGIES",
    "ComparisonResult",
    "build_strategy",
    "compare_strategies",
    "distinct_cells",
    "embedding_experiment",
    "curve_figure",
    "load_benchmark",
    "run_embedding",
    "run_strategy_search",
]

#: Strategy names of :func:`build_strategy` (``"nasgem-onehot"``: NASGEM whose predictor reads
#: the one-hot encoding instead of the WL-trained embedding).
STRATEGIES = ("nasgem", "nasgem-onehot", "rea", "random")


def load_benchmark(space: str, path: str | os.PathLike[str] | None = None, *,
                   root: str | os.PathLike[str] | None = None) -> Any:
    """The tabular benchmark a space name is evaluated with.

    Args:
        space: ``"nb201"``, ``"nb101"`` or ``"cell:N"``.
        path: a benchmark file (NAS-Bench-201 pickle, NASLib NAS-Bench-101 JSON); default:
            the shipped dataset under ``root``.
        root: data root of the shipped tables (default ``$CARBIDE_DATA``).

    Returns:
        A :class:`~carbide.datasets.NASBench201` / :class:`~carbide.datasets.NASBench101`,
        or ``None`` for ``cell:N`` (trained, no table).

    Raises:
        InvalidConfigError: a benchmark path given for ``cell:N``.
        DatasetNotFoundError / DatasetCorruptError: missing or wrongly formatted file.
    """
    from ...datasets import NASBench101, NASBench201

    text = str(space).strip().lower()
    if text == "nb201":
        return NASBench201.from_file(path) if path else NASBench201.load(root)
    if text == "nb101":
        return NASBench101.from_file(path) if path else NASBench101.load(root)
    from ..spaces import make_space

    make_space(text)  # an unknown or malformed space name fails here, with the choices
    if path:
        raise InvalidConfigError(
            f"--benchmark is for table spaces (nb201, nb101); space {space!r} is trained"
        )
    return None


def distinct_cells(space: Any, count: int, rng: np.random.Generator) -> list:
    """Up to ``count`` pairwise non-isomorphic cells of ``space`` (uniform over the finite
    space's cells, else ``space.sample``)."""
    pool = candidate_pool(space)
    out, seen = [], set()
    if pool is not None:
        order = rng.permutation(len(pool))
        for i in order:
            h = pool[i].hash()
            if h not in seen:
                seen.add(h)
                out.append(pool[i])
                if len(out) == count:
                    break
        return out
    for _ in range(50 * count):
        cell = space.sample(rng)
        h = cell.hash()
        if h not in seen:
            seen.add(h)
            out.append(cell)
            if len(out) == count:
                break
    return out


def embedding_experiment(
    space: Any,
    *,
    train_cells: int = 1000,
    heldout_cells: int = 300,
    config: EncoderConfig | None = None,
    seed: int = 0,
    max_pairs: int | None = 20000,
) -> dict[str, Any]:
    """Train the encoder on cells of ``space``; score it on disjoint held-out cells.

    Args:
        space: a search space.
        train_cells: non-isomorphic cells the encoder trains on (default 1000).
        heldout_cells: other non-isomorphic cells whose pairs are scored (default 300).
        config: :class:`EncoderConfig`.
        seed: seeds the cell draw and the encoder.
        max_pairs: pairs scored (random subset; default 20000).

    Returns:
        ``{"spearman", "kendall", "onehot_spearman", "onehot_kendall", "pairs",
        "train_cells", "heldout_cells", "max_nodes", "train_s", "loss"}``.
    """
    check_int("train_cells", train_cells, 2)
    check_int("heldout_cells", heldout_cells, 3)
    cfg = config or EncoderConfig()
    rng = np.random.default_rng(seed)
    cells = distinct_cells(space, train_cells + heldout_cells, rng)
    if len(cells) < train_cells + 3:
        raise InvalidConfigError(
            f"{space!r} has only {len(cells)} distinct cells; need train_cells + 3"
        )
    train, held = cells[:train_cells], cells[train_cells:]
    ops = tuple(dict.fromkeys(("input", "output", *space.ops,
                               *(op for c in cells for op in c.ops))))
    t0 = time.perf_counter()
    enc = train_encoder(train, ops, cfg, seed=seed)
    train_s = time.perf_counter() - t0
    from .wl import wl_kernel

    kernel = wl_kernel(held, h=cfg.h, direction=cfg.direction)
    ours = embedding_similarity_quality(enc.embed(held), kernel=kernel, max_pairs=max_pairs,
                                        seed=seed)
    width = max(c.num_nodes for c in cells)
    base = embedding_similarity_quality(onehot_encoding(held, ops, width), kernel=kernel,
                                        max_pairs=max_pairs, seed=seed)
    return {
        "spearman": ours["spearman"], "kendall": ours["kendall"],
        "onehot_spearman": base["spearman"], "onehot_kendall": base["kendall"],
        "pairs": ours["pairs"], "train_cells": len(train), "heldout_cells": len(held),
        "max_nodes": width, "train_s": train_s, "loss": enc.history,
    }


def build_strategy(name: str, space: Any, *, seed: int = 0,
                   nasgem: NASGEMConfig | None = None, **kwargs: Any) -> Any:
    """``"nasgem"`` -> :class:`NASGEM` (config ``nasgem``), ``"nasgem-onehot"`` -> the same
    with ``encoding="onehot"``, ``"rea"``/``"random"`` -> the core strategies
    (:func:`carbide.nas.strategies.make_strategy`, ``kwargs`` to them)."""
    from dataclasses import replace

    from ..strategies import make_strategy

    if name == "nasgem":
        return NASGEM(space, nasgem, seed=seed)
    if name == "nasgem-onehot":
        return NASGEM(space, replace(nasgem or NASGEMConfig(), encoding="onehot"), seed=seed)
    if name in ("rea", "random"):
        return make_strategy(name, space, seed=seed, **kwargs)
    raise InvalidConfigError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")


@dataclass
class ComparisonResult:
    """What :func:`compare_strategies` measured.

    Attributes:
        rows: one dict per (strategy, seed): ``strategy, seed, best_val_acc, regret,
            queries, best_arch, wall_s``.
        curves: strategy -> ``(seeds, budget)`` array of best val_acc after each query.
        optimum: the table's best val_acc (``None`` without a table).
    """

    rows: list[dict[str, Any]]
    curves: dict[str, np.ndarray]
    optimum: float | None

    def summary(self) -> list[dict[str, Any]]:
        """Per strategy: mean and sample sd over seeds (:func:`carbide.results.seed_summary`;
        the sd is NaN with one seed) of best val_acc and regret at the budget."""
        from ...results import seed_summary

        out = []
        for name, curve in self.curves.items():
            final = seed_summary(curve[:, -1])
            row = {"strategy": name, "seeds": curve.shape[0], "queries": curve.shape[1],
                   "best_val_acc_mean": final.mean, "best_val_acc_sd": final.std}
            if self.optimum is not None:
                reg = seed_summary(self.optimum - curve[:, -1])
                row["regret_mean"] = reg.mean
                row["regret_sd"] = reg.std
            out.append(row)
        return out


def compare_strategies(
    space: Any,
    evaluator_factory: Any,
    *,
    strategies: Sequence[str] = ("nasgem", "rea", "random"),
    budget: int = 150,
    seeds: Sequence[int] = tuple(range(10)),
    nasgem: NASGEMConfig | None = None,
    optimum: float | None = None,
    show_progress: bool = True,
) -> ComparisonResult:
    """Run each strategy for ``budget`` queries with each seed (a fresh evaluator per run).

    Args:
        space: the search space.
        evaluator_factory: ``seed -> Evaluator`` (a fresh cache and counters per run).
        strategies: names from :data:`STRATEGIES`.
        budget: queries per run (default 150).
        seeds: strategy seeds (default 0..9).
        nasgem: :class:`NASGEMConfig` for ``"nasgem"``.
        optimum: best reachable val_acc for regret (default: the evaluator's ``optimum()``).
        show_progress: a progress bar over runs.
    """
    from ...results import progress
    from ..search import run_search

    check_int("budget", budget, 1)
    if not seeds:
        raise InvalidConfigError("give at least one seed")
    for name in strategies:
        if name not in STRATEGIES:
            raise InvalidConfigError(
                f"unknown strategy {name!r}; choose from {list(STRATEGIES)}"
            )
    rows, curves = [], {}
    with progress(transient=True) as bar:
        task = bar.add_task("strategies x seeds", total=len(strategies) * len(seeds),
                            visible=show_progress)
        for name in strategies:
            curve = []
            for seed in seeds:
                evaluator = evaluator_factory(seed)
                if optimum is None:
                    optimum = evaluator.optimum()
                strategy = build_strategy(name, space, seed=seed, nasgem=nasgem)
                t0 = time.perf_counter()
                history = run_search(strategy, evaluator, budget)
                wall = time.perf_counter() - t0
                best = history.best
                # a run that ran out of new cells keeps its last best (flat tail)
                curve.append(np.pad(history.best_so_far, (0, budget - history.queries),
                                    mode="edge"))
                rows.append({
                    "strategy": name, "seed": seed, "best_val_acc": best["val_acc"],
                    "regret": None if optimum is None else optimum - best["val_acc"],
                    "queries": history.queries, "best_arch": best["key"],
                    "best_params": best.get("params"), "wall_s": round(wall, 2),
                })
                bar.advance(task)
            curves[name] = np.stack(curve)
    return ComparisonResult(rows=rows, curves=curves, optimum=optimum)


def curve_figure(result: ComparisonResult, title: str) -> Any:
    """Best val acc vs queries: mean over seeds with a min-max band, per strategy."""
    from ...results import subplots

    fig, ax = subplots(figsize=(6.0, 4.0))
    for name, curve in result.curves.items():
        q = np.arange(1, curve.shape[1] + 1)
        ax.plot(q, curve.mean(0), label=f"{name} (n={curve.shape[0]})")
        ax.fill_between(q, curve.min(0), curve.max(0), alpha=0.2)
    if result.optimum is not None:
        ax.axhline(result.optimum, color="k", ls=":", lw=1, label="table best")
        lo = min(float(np.percentile(c[:, -1], 0)) for c in result.curves.values())
        ax.set_ylim(lo - 2.0, result.optimum + 0.3)
    ax.set_xlabel("queries")
    ax.set_ylabel("best validation accuracy (%)")
    ax.set_title(title)
    ax.legend()
    return fig


def _evaluator_factory(spec: str, bench: Any, train_steps: int, channels: int = 16,
                       root: Any = None) -> Any:
    from ..evaluators import TrainingEvaluator, make_evaluator

    if bench is not None:
        return lambda seed: make_evaluator(spec, bench)
    shared: dict[str, Any] = {}

    def factory(seed: int) -> Any:
        if "data" not in shared:  # load Fashion-MNIST once for every run
            shared["data"] = TrainingEvaluator(max_steps=train_steps, channels=channels,
                                               root=root).data()
        return TrainingEvaluator(max_steps=train_steps, channels=channels, data=shared["data"])

    return factory


def run_strategy_search(out: str | os.PathLike[str], *, space: str = "nb201",
                        strategy: str = "nasgem", budget: int = 150, seeds: int = 10,
                        seed: int = 0, nasgem: NASGEMConfig | None = None,
                        benchmark: str | os.PathLike[str] | None = None, train_steps: int = 30,
                        root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``carbide nasgem search``: one strategy on one space over seeds, as a run record.

    Args:
        out: output folder (results contract: metrics ``best_val_acc``, ``best_val_acc_sd``,
            ``regret``, ``regret_sd``, ``queries``, ``optimum``; per-seed rows; ``curve.png``).
        space: ``nb201``, ``nb101`` or ``cell:N`` (trained with the Fashion-MNIST evaluator).
        strategy: one of :data:`STRATEGIES`. budget: queries per seed (default 150).
        seeds: runs with seeds ``seed .. seed + seeds - 1`` (default 10).
        nasgem: :class:`NASGEMConfig` for ``"nasgem"``.
        benchmark: a table file (default: the shipped one under ``root``).
        train_steps: SGD steps of the training evaluator for ``cell:N``.
        root: data root (default ``$CARBIDE_DATA``).
    """
    from ...results import Report, RunRecorder
    from ..spaces import make_space

    check_int("budget", budget, 1)
    check_int("seeds", seeds, 1)
    cfg = nasgem or NASGEMConfig()
    bench = load_benchmark(space, benchmark, root=root)
    search_space = make_space(space, bench=bench)
    seed_list = list(range(seed, seed + seeds))
    config = {"space": space, "benchmark": None if benchmark is None else str(benchmark),
              "strategy": strategy, "budget": budget, "seeds": seed_list,
              "nasgem": cfg if strategy == "nasgem" else None,
              "train_steps": train_steps if bench is None else None}
    recorder = RunRecorder(out, system="nasgem", config=config)
    result = compare_strategies(
        search_space, _evaluator_factory(space, bench, train_steps, 16, root),
        strategies=[strategy], budget=budget, seeds=seed_list, nasgem=cfg)
    summary = result.summary()[0]
    metrics = {"best_val_acc": summary["best_val_acc_mean"],
               "best_val_acc_sd": summary["best_val_acc_sd"],
               "regret": summary.get("regret_mean"), "regret_sd": summary.get("regret_sd"),
               "queries": budget, "optimum": result.optimum}
    report = (Report(f"NASGEM search: {strategy} on {space}, {budget} queries, {seeds} seeds")
              .paragraph("The agreed reconstruction of NASGEM (arXiv 2007.04452); no official "
                         "code exists.")
              .table([summary]).heading("Per seed").table(result.rows)
              .figure(curve_figure(result, f"{strategy} on {space}"), "curve.png",
                      "best validation accuracy vs queries"))
    return recorder.finish(metrics=metrics, rows=result.rows, report=report)


def run_embedding(out: str | os.PathLike[str], *, space: str = "nb201",
                  config: EncoderConfig | None = None, train_cells: int = 1000,
                  heldout_cells: int = 300, seed: int = 0,
                  benchmark: str | os.PathLike[str] | None = None,
                  root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``carbide nasgem embed``: :func:`embedding_experiment` on a space, as a run record
    (metrics ``spearman``, ``kendall``, ``onehot_spearman``, ``onehot_kendall``, ``pairs``,
    ``train_s``)."""
    from ...results import Report, RunRecorder
    from ..spaces import make_space

    cfg = config or EncoderConfig()
    search_space = make_space(space, bench=load_benchmark(space, benchmark, root=root))
    recorder = RunRecorder(out, system="nasgem", config={
        "space": space, "benchmark": None if benchmark is None else str(benchmark),
        "train_cells": train_cells, "heldout_cells": heldout_cells, "encoder": cfg,
        "seed": seed})
    res = embedding_experiment(search_space, train_cells=train_cells,
                               heldout_cells=heldout_cells, config=cfg, seed=seed)
    metrics = {k: res[k] for k in ("spearman", "kendall", "onehot_spearman", "onehot_kendall",
                                   "pairs", "train_s")}
    rows = [{"encoding": "NASGEM encoder (WL-trained GIN)", "spearman": res["spearman"],
             "kendall": res["kendall"]},
            {"encoding": "one-hot adjacency + ops", "spearman": res["onehot_spearman"],
             "kendall": res["onehot_kendall"]}]
    report = (Report(f"NASGEM embedding quality on {space}")
              .paragraph(f"Correlation between embedding cosine similarity and the normalized "
                         f"WL kernel (h={cfg.h}) over {res['pairs']} pairs of "
                         f"{res['heldout_cells']} held-out cells; the encoder trained on "
                         f"{res['train_cells']} other cells ({cfg.steps} steps, "
                         f"{res['train_s']:.1f} s).")
              .table(rows))
    return recorder.finish(metrics=metrics, rows=rows, report=report)

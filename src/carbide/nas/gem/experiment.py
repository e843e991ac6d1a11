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
    "load_benchmark",
]

#: Strategy names of :func:`build_strategy`.
STRATEGIES = ("nasgem", "rea", "random")


def load_benchmark(space: str, path: str | os.PathLike[str] | None = None) -> Any:
    """The tabular benchmark a space name is evaluated with.

    Args:
        space: ``"nb201"``, ``"nb101"`` or ``"cell:N"``.
        path: a benchmark file (NAS-Bench-201 pickle, NASLib NAS-Bench-101 JSON); default:
            the shipped dataset under ``$CARBIDE_DATA``.

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
        return NASBench201.from_file(path) if path else NASBench201.load()
    if text == "nb101":
        return NASBench101.from_file(path) if path else NASBench101.load()
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
    """``"nasgem"`` -> :class:`NASGEM` (config ``nasgem``), ``"rea"``/``"random"`` -> the
    core strategies (:func:`carbide.nas.strategies.make_strategy`, ``kwargs`` to them)."""
    from ..strategies import make_strategy

    if name == "nasgem":
        return NASGEM(space, nasgem, seed=seed)
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
        """Per strategy: mean and sd over seeds of best val_acc and regret at the budget."""
        out = []
        for name, curve in self.curves.items():
            final = curve[:, -1]
            row = {"strategy": name, "seeds": curve.shape[0], "queries": curve.shape[1],
                   "best_val_acc_mean": float(final.mean()),
                   "best_val_acc_sd": float(final.std(ddof=1)) if len(final) > 1 else 0.0}
            if self.optimum is not None:
                reg = self.optimum - final
                row["regret_mean"] = float(reg.mean())
                row["regret_sd"] = float(reg.std(ddof=1)) if len(reg) > 1 else 0.0
            out.append(row)
        return out


def compare_strategies(
    space: Any,
    evaluator_factory: Any,
    *,
    strategies: Sequence[str] = STRATEGIES,
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

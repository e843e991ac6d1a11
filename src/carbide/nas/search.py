"""Run an ask/tell strategy against an evaluator for a budget of queries.

Budget and duplicates: the budget counts *charged* queries, i.e. distinct cells (by the
evaluator's cache key). When a strategy proposes a cell it has already had evaluated, the
cached :class:`~carbide.nas.evaluators.Evaluation` is told back at no cost and no budget
(a real search would look the result up, not retrain), and the repeat is counted in
:attr:`SearchHistory.duplicates`. To guarantee termination (a small table, a strategy stuck
on known cells) at most ``max_asks`` asks are made (default ``20 * budget + 100``); a search
that stops there has :attr:`SearchHistory.exhausted` set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import check_int
from ..exceptions import InvalidConfigError
from .cell import Cell
from .evaluators import Evaluation, Evaluator
from .strategies import Strategy

__all__ = ["SearchHistory", "run_search"]


@dataclass
class SearchHistory:
    """What a search evaluated, one record per charged query, in order.

    Attributes:
        records: dicts with ``query`` (1-based), ``ask`` (1-based ask index), ``key``
            (evaluator cache key), ``val_acc``, ``test_acc``, ``cost_s``, ``cum_cost_s``,
            ``best_so_far``, ``params``, ``flops``, ``macs``.
        cells: the evaluated cells, aligned with ``records``.
        duplicates: asks answered from the cache (free; not in ``records``).
        exhausted: the search hit ``max_asks`` before spending its budget.
        strategy, evaluator: names, for reports.
        seed: the strategy's seed.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    duplicates: int = 0
    exhausted: bool = False
    strategy: str = ""
    evaluator: str = ""
    seed: int = 0
    asks: int = 0

    def __len__(self) -> int:
        return len(self.records)

    @property
    def queries(self) -> int:
        """Charged queries so far."""
        return len(self.records)

    @property
    def val_accs(self) -> np.ndarray:
        """``val_acc`` per query, shape ``(queries,)``."""
        return np.array([r["val_acc"] for r in self.records], dtype=float)

    @property
    def best_so_far(self) -> np.ndarray:
        """Best ``val_acc`` after each query, shape ``(queries,)`` (non-decreasing)."""
        return np.maximum.accumulate(self.val_accs) if self.records else np.zeros(0)

    def regret(self, optimum: float) -> np.ndarray:
        """``optimum - best_so_far``, shape ``(queries,)`` (e.g. the table's best accuracy)."""
        return float(optimum) - self.best_so_far

    @property
    def best(self) -> dict[str, Any]:
        """Record of the best cell (first of ties), with the cell under ``"cell"``."""
        if not self.records:
            raise InvalidConfigError("the search has no queries yet")
        i = int(np.argmax(self.val_accs))
        return {**self.records[i], "cell": self.cells[i]}

    @property
    def total_cost_s(self) -> float:
        """Charged seconds (simulated for tables, measured for training)."""
        return self.records[-1]["cum_cost_s"] if self.records else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (cells via :meth:`Cell.to_dict`)."""
        return {
            "records": [dict(r) for r in self.records],
            "cells": [c.to_dict() for c in self.cells],
            "duplicates": self.duplicates, "exhausted": self.exhausted,
            "strategy": self.strategy, "evaluator": self.evaluator, "seed": self.seed,
            "asks": self.asks,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchHistory:
        """Inverse of :meth:`to_dict`."""
        return cls(
            records=[dict(r) for r in data["records"]],
            cells=[Cell.from_dict(c) for c in data["cells"]],
            duplicates=int(data["duplicates"]), exhausted=bool(data["exhausted"]),
            strategy=data["strategy"], evaluator=data["evaluator"], seed=int(data["seed"]),
            asks=int(data.get("asks", 0)),
        )


def run_search(
    strategy: Strategy, evaluator: Evaluator, budget: int, *, progress: bool = False,
    history: SearchHistory | None = None, max_asks: int | None = None,
) -> SearchHistory:
    """Ask, evaluate and tell until ``budget`` distinct cells have been evaluated.

    Args:
        strategy: an ask/tell :class:`~carbide.nas.strategies.Strategy`.
        evaluator: an :class:`~carbide.nas.evaluators.Evaluator` (its cache decides what a
            repeat is).
        budget: total charged queries (including those already in ``history``).
        progress: show a progress bar (stderr, only on a terminal).
        history: continue this history (with the same strategy and evaluator objects, or
            ones restored from their ``state_dict``) instead of starting a new one.
        max_asks: cap on asks made by this call (default ``20 * budget + 100``).

    Returns:
        The :class:`SearchHistory`.

    Raises:
        InvalidConfigError: ``budget`` is not an integer >= 1, is smaller than the
            strategy's ``min_budget`` (e.g. REA's population), or larger than a finite
            space's number of cells.
    """
    budget = check_int("budget", budget, 1)
    if budget < strategy.min_budget:
        raise InvalidConfigError(
            f"budget {budget} is smaller than the initial population of {strategy!r} "
            f"({strategy.min_budget} queries); raise the budget or lower the population"
        )
    size = len(strategy.space) if hasattr(strategy.space, "__len__") else None
    if size is not None and budget > size:
        raise InvalidConfigError(
            f"budget {budget} exceeds the {size} cells of {strategy.space!r}; "
            f"lower it to at most {size}"
        )
    if max_asks is None:
        max_asks = 20 * budget + 100
    check_int("max_asks", max_asks, 1)
    if history is None:
        history = SearchHistory(strategy=strategy.name, evaluator=evaluator.name,
                                seed=strategy.seed)
    best = max((r["val_acc"] for r in history.records), default=-math.inf)
    cum = history.total_cost_s

    bar = None
    if progress:
        from ..results import progress as make_progress

        bar = make_progress()
        bar.start()
        task = bar.add_task(f"{strategy.name} search", total=budget, completed=len(history))
    try:
        asks = 0
        while len(history) < budget:
            if asks >= max_asks:
                history.exhausted = True
                break
            asks += 1
            history.asks += 1
            cell = strategy.ask()
            repeat = evaluator.seen(cell)
            result: Evaluation = evaluator.evaluate(cell)
            strategy.tell(cell, result)
            if repeat:
                history.duplicates += 1
                continue
            best = max(best, float(result.val_acc))
            cum += result.cost_s or 0.0
            history.records.append({
                "query": len(history) + 1, "ask": history.asks, "key": evaluator.key(cell),
                "val_acc": float(result.val_acc), "test_acc": result.test_acc,
                "cost_s": result.cost_s, "cum_cost_s": cum, "best_so_far": best,
                "params": result.params, "flops": result.flops, "macs": result.macs,
            })
            history.cells.append(cell)
            if bar is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    return history

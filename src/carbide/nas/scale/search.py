"""Multi-objective evolutionary search over ScaleNAS architectures (FLOPs vs accuracy).

:class:`ParetoEvolution` is an ask/tell :class:`carbide.nas.strategies.Strategy` (so
:func:`carbide.nas.search.run_search` drives it, with ``state_dict`` resume): NSGA-II-style
selection (Deb et al. 2002) -- non-dominated rank, then crowding distance -- over everything
evaluated so far, per-module crossover of two tournament winners and fusion-bit/depth mutation
(ScaleNAS's moves). Every candidate must fit the FLOPs budget; a budget below the space's
smallest subnet is refused. :class:`SupernetEvaluator` scores a subnet with inherited supernet
weights after BN recalibration (no retraining). :func:`pareto_front` keeps the
non-dominated (low FLOPs, high score) set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from ..evaluators import Evaluation, Evaluator
from ..strategies import Strategy
from .space import ScaleArch, ScaleSpace

__all__ = ["ParetoEvolution", "SupernetEvaluator", "check_budget", "crowding_distance",
           "nondominated_rank", "pareto_front"]


def nondominated_rank(flops: Sequence[float], score: Sequence[float]) -> np.ndarray:
    """NSGA-II front index per point (0 = non-dominated), minimizing FLOPs and maximizing
    score."""
    f = np.asarray(flops, float)
    s = np.asarray(score, float)
    n = len(f)
    rank = np.full(n, -1)
    left = np.ones(n, bool)
    r = 0
    while left.any():
        idx = np.flatnonzero(left)
        front = [i for i in idx if not any(
            (f[j] <= f[i] and s[j] >= s[i] and (f[j] < f[i] or s[j] > s[i])) for j in idx)]
        rank[front] = r
        left[front] = False
        r += 1
    return rank


def crowding_distance(flops: Sequence[float], score: Sequence[float]) -> np.ndarray:
    """NSGA-II crowding distance within one front (boundary points: infinity)."""
    pts = np.stack([np.asarray(flops, float), np.asarray(score, float)], 1)
    n = len(pts)
    d = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for m in range(2):
        order = np.argsort(pts[:, m], kind="stable")
        span = pts[order[-1], m] - pts[order[0], m]
        d[order[0]] = d[order[-1]] = np.inf
        if span > 0:
            d[order[1:-1]] += (pts[order[2:], m] - pts[order[:-2], m]) / span
    return d


def pareto_front(items: Sequence[dict[str, Any]], score: str) -> list[dict[str, Any]]:
    """The non-dominated items (by ``"flops"`` ascending and ``score`` descending), sorted by
    FLOPs; among equal (flops, score) the first is kept."""
    if not items:
        return []
    rank = nondominated_rank([it["flops"] for it in items], [it[score] for it in items])
    seen, out = set(), []
    for i in sorted(np.flatnonzero(rank == 0), key=lambda i: items[i]["flops"]):
        key = (items[i]["flops"], items[i][score])
        if key not in seen:
            seen.add(key)
            out.append(items[i])
    return out


def check_budget(flops_budget: float | None, smallest_flops: float) -> None:
    """Refuse a FLOPs budget (in FLOPs) below the space's smallest subnet."""
    if flops_budget is not None and flops_budget < smallest_flops:
        raise InvalidConfigError(
            f"FLOPs budget {flops_budget / 1e9:.4g} G is below the smallest subnet of the space "
            f"({smallest_flops / 1e9:.4g} G): no subnet meets it; raise --flops-budget to at "
            f"least {smallest_flops / 1e9:.4g}")


class ParetoEvolution(Strategy):
    """NSGA-II-style evolution on (FLOPs, score) with ScaleNAS's moves.

    The first ``population`` asks are grouped samples (densities 0.2/0.5/0.8 in turn, the
    whole depth range); then each ask picks two parents by binary tournament on (front rank,
    crowding distance) among the ``population`` best evaluated so far, crosses them per module
    (with probability ``crossover``) and mutates fusion bits and depths. Candidates above the
    FLOPs budget are redrawn.

    Args:
        space: the :class:`~carbide.nas.scale.space.ScaleSpace`.
        flops: ``arch -> FLOPs`` (e.g. a cached :func:`~carbide.nas.scale.supernet.count_flops`).
        flops_budget: maximum FLOPs per image, or ``None``.
        population: parents kept (default 16).
        crossover: probability of crossing two parents (default 0.9).
        bit_rate, depth_rate: mutation rates.
        seed: generator seed.
    """

    name = "pareto-evolution"

    def __init__(self, space: ScaleSpace, flops: Callable[[ScaleArch], float],
                 flops_budget: float | None = None, population: int = 16,
                 crossover: float = 0.9, bit_rate: float = 0.1, depth_rate: float = 0.2,
                 seed: int = 0):
        super().__init__(space, seed)
        self.flops = flops
        self.flops_budget = flops_budget
        self.population = check_int("population", population, 2)
        self.crossover = check_real("crossover", crossover, 0.0, 1.0)
        self.bit_rate = check_real("bit_rate", bit_rate, 0.0, 1.0)
        self.depth_rate = check_real("depth_rate", depth_rate, 0.0, 1.0)
        check_budget(flops_budget, flops(space.smallest()))
        self.history: list[tuple[ScaleArch, float, float]] = []

    @property
    def min_budget(self) -> int:  # type: ignore[override]
        return self.population

    def _fits(self, arch: ScaleArch) -> bool:
        return self.flops_budget is None or self.flops(arch) <= self.flops_budget

    def _draw(self, make: Callable[[], ScaleArch]) -> ScaleArch:
        for _ in range(200):
            arch = make()
            if self._fits(arch):
                return arch
        return self.space.smallest()  # always fits (checked in __init__)

    def _parents(self) -> list[tuple[ScaleArch, float, float]]:
        pool = self.history
        rank = nondominated_rank([h[1] for h in pool], [h[2] for h in pool])
        crowd = np.zeros(len(pool))
        for r in np.unique(rank):
            idx = np.flatnonzero(rank == r)
            crowd[idx] = crowding_distance([pool[i][1] for i in idx], [pool[i][2] for i in idx])
        order = sorted(range(len(pool)), key=lambda i: (rank[i], -crowd[i]))
        keep = order[: self.population]
        return [(pool[i][0], float(rank[i]), float(crowd[i])) for i in keep]

    def _tournament(self, parents) -> ScaleArch:
        i, j = self.rng.choice(len(parents), size=2, replace=len(parents) < 2)
        a, b = parents[int(i)], parents[int(j)]
        return a[0] if (a[1], -a[2]) <= (b[1], -b[2]) else b[0]

    def ask(self) -> ScaleArch:  # type: ignore[override]
        self.asked += 1
        if self.asked <= self.population or len(self.history) < 2:
            from .space import DENSITIES

            p = DENSITIES[(self.asked - 1) % len(DENSITIES)]
            return self._draw(lambda: self.space.sample_group(self.rng, p,
                                                              self.space.depth_range))
        parents = self._parents()

        def child() -> ScaleArch:
            a = self._tournament(parents)
            if self.rng.random() < self.crossover:
                a = self.space.crossover(a, self._tournament(parents), self.rng)
            return self.space.mutate(a, self.rng, self.bit_rate, self.depth_rate)

        return self._draw(child)

    def tell(self, arch: ScaleArch, evaluation: Evaluation) -> None:  # type: ignore[override]
        super().tell(arch, evaluation)
        flops = evaluation.flops if evaluation.flops is not None else self.flops(arch)
        self.history.append((arch, float(flops), float(evaluation.val_acc)))

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(population=self.population, flops_budget=self.flops_budget,
                     history=[{"arch": a.to_dict(), "flops": f, "score": s}
                              for a, f, s in self.history])
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if state["population"] != self.population:
            raise InvalidConfigError(f"state_dict has population={state['population']}, this "
                                     f"strategy has {self.population}")
        self.history = [(ScaleArch.from_dict(h["arch"]), float(h["flops"]), float(h["score"]))
                        for h in state["history"]]


class SupernetEvaluator(Evaluator):
    """Scores subnets with inherited supernet weights (BN recalibrated first); ``val_acc`` is
    the task score (mIoU or OKS AP, percent) and ``flops`` the subnet's FLOPs.

    Args:
        supernet: the trained supernet.
        val: validation :class:`~carbide.nas.scale.data.DenseDataset`.
        calib: training data for BN recalibration.
        task: ``"seg"`` or ``"keypoints"``.
        flops: ``arch -> FLOPs``.
        calib_images: images for recalibration (default 256).
    """

    name = "supernet"

    def __init__(self, supernet, val, calib, task: str, flops: Callable[[ScaleArch], float],
                 calib_images: int = 256):
        super().__init__()
        self.supernet, self.val, self.calib, self.task = supernet, val, calib, task
        self.flops = flops
        self.calib_images = calib_images

    def key(self, arch: ScaleArch) -> str:  # type: ignore[override]
        return arch.key()

    def _evaluate(self, arch: ScaleArch) -> Evaluation:  # type: ignore[override]
        from .train import evaluate

        t0 = time.perf_counter()
        scores = evaluate(self.supernet, self.val, self.task, arch=arch, calib=self.calib,
                          calib_images=self.calib_images)
        main = scores["miou"] if self.task == "seg" else scores["ap"]
        return Evaluation(val_acc=main, cost_s=time.perf_counter() - t0,
                          flops=float(self.flops(arch)), extra=dict(scores))

"""Search strategies with an ask/tell interface: random search and regularized evolution.

The contract (small on purpose; NASGEM's bootstrap search in :mod:`carbide.nas.gem`
implements it too):

* ``ask() -> Cell``: the next cell to evaluate (one at a time; a strategy that thinks in
  batches keeps its own queue);
* ``tell(cell, evaluation)``: the result of a cell that ``ask`` returned (in ask order);
* ``min_budget``: the fewest queries the strategy needs (e.g. REA's random initial
  population); :func:`~carbide.nas.search.run_search` refuses smaller budgets;
* ``state_dict()`` / ``load_state_dict(state)``: a JSON-able snapshot (counters, the random
  generator's state, the population); loading it into a fresh strategy built with the same
  space gives exactly the same continuation.

All randomness comes from one ``numpy.random.Generator`` seeded by ``seed``, passed to the
space's ``sample``/``mutate``, so a seed fixes a run.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from .._validate import check_int
from ..exceptions import InvalidConfigError
from .cell import Cell
from .evaluators import Evaluation
from .spaces import SearchSpace

__all__ = ["RandomSearch", "RegularizedEvolution", "Strategy", "make_strategy"]


class Strategy:
    """Base class of ask/tell search strategies (see the module docstring).

    Subclasses implement :meth:`ask` and :meth:`tell`, and extend :meth:`state_dict` /
    :meth:`load_state_dict` with their own state (call ``super()``).

    Args:
        space: the :class:`~carbide.nas.spaces.SearchSpace` to search.
        seed: seed of the strategy's generator (:attr:`rng`).
    """

    name = "strategy"
    #: Fewest queries the strategy needs; budgets below it are refused.
    min_budget = 1

    def __init__(self, space: SearchSpace, seed: int = 0):
        if not isinstance(space, SearchSpace):
            raise InvalidConfigError(
                f"space must be a carbide.nas SearchSpace, got {type(space).__name__}"
            )
        self.space = space
        self.seed = check_int("seed", seed, 0)
        self.rng = np.random.default_rng(seed)
        self.asked = 0
        self.told = 0

    def ask(self) -> Cell:
        """The next cell to evaluate."""
        raise NotImplementedError

    def tell(self, cell: Cell, evaluation: Evaluation) -> None:
        """Report the evaluation of a cell returned by :meth:`ask`."""
        self.told += 1

    def state_dict(self) -> dict[str, Any]:
        """JSON-able snapshot: name, seed, counters and the generator state."""
        return {"name": self.name, "seed": self.seed, "asked": self.asked, "told": self.told,
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` snapshot (of the same strategy type)."""
        if state.get("name") != self.name:
            raise InvalidConfigError(
                f"state_dict is for strategy {state.get('name')!r}, not {self.name!r}"
            )
        self.seed = int(state["seed"])
        self.asked = int(state["asked"])
        self.told = int(state["told"])
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space!r}, seed={self.seed})"


class RandomSearch(Strategy):
    """Random search: every ask is a fresh ``space.sample`` (Li & Talwalkar, UAI 2019's
    baseline; NAS-Bench-101/201's reference strategy)."""

    name = "random"

    def ask(self) -> Cell:
        self.asked += 1
        return self.space.sample(self.rng)


class RegularizedEvolution(Strategy):
    """Regularized (aging) evolution (Real et al., AAAI 2019, arXiv 1802.01548).

    The first ``population`` asks are random samples. After that each ask runs a tournament:
    ``sample_size`` members drawn without replacement from the current population, the one
    with the highest ``val_acc`` is mutated (``space.mutate``). Each told result joins the
    population and the *oldest* member leaves once it exceeds ``population`` (aging, not
    worst-removal).

    Args:
        space: the search space.
        population: population size ``P`` (default 20).
        sample_size: tournament size ``S`` (default 5), ``1 <= S <= P``.
        seed: generator seed.

    Defaults suit budgets of ~100-300 queries (NAS-Bench-201 runs at 150 queries); Real et
    al. used ``P = 100, S = 25`` on budgets of thousands.
    """

    name = "rea"

    def __init__(self, space: SearchSpace, population: int = 20, sample_size: int = 5,
                 seed: int = 0):
        super().__init__(space, seed)
        self.population = check_int("population", population, 1)
        self.sample_size = check_int("sample_size", sample_size, 1)
        if sample_size > population:
            raise InvalidConfigError(
                f"sample_size ({sample_size}) must be at most population ({population})"
            )
        self.members: deque[tuple[Cell, float]] = deque()

    @property
    def min_budget(self) -> int:  # type: ignore[override]
        return self.population

    def __repr__(self) -> str:
        return (f"RegularizedEvolution(space={self.space!r}, population={self.population}, "
                f"sample_size={self.sample_size}, seed={self.seed})")

    def ask(self) -> Cell:
        self.asked += 1
        if self.asked <= self.population or not self.members:
            return self.space.sample(self.rng)
        k = min(self.sample_size, len(self.members))
        picks = self.rng.choice(len(self.members), size=k, replace=False)
        # Ties go to the earliest drawn, so the choice depends only on the generator.
        parent = max((self.members[int(i)] for i in picks), key=lambda m: m[1])[0]
        return self.space.mutate(parent, self.rng)

    def tell(self, cell: Cell, evaluation: Evaluation) -> None:
        super().tell(cell, evaluation)
        self.members.append((cell, float(evaluation.val_acc)))
        while len(self.members) > self.population:
            self.members.popleft()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state.update(population=self.population, sample_size=self.sample_size,
                     members=[{"cell": c.to_dict(), "val_acc": a} for c, a in self.members])
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if (state["population"], state["sample_size"]) != (self.population, self.sample_size):
            raise InvalidConfigError(
                f"state_dict has population={state['population']}, "
                f"sample_size={state['sample_size']}; this strategy has "
                f"population={self.population}, sample_size={self.sample_size}"
            )
        self.members = deque(
            (Cell.from_dict(m["cell"]), float(m["val_acc"])) for m in state["members"]
        )


def make_strategy(name: str, space: SearchSpace, *, seed: int = 0, **kwargs: Any) -> Strategy:
    """Build ``"random"`` or ``"rea"`` by name (``kwargs`` go to the constructor)."""
    if name == "random":
        return RandomSearch(space, seed=seed, **kwargs)
    if name == "rea":
        return RegularizedEvolution(space, seed=seed, **kwargs)
    raise InvalidConfigError(f"unknown strategy {name!r}; choose 'random' or 'rea'")

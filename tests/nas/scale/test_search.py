import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError
from carbide.nas.evaluators import Evaluation, Evaluator
from carbide.nas.scale.search import (
    ParetoEvolution,
    crowding_distance,
    nondominated_rank,
    pareto_front,
)
from carbide.nas.scale.space import ScaleSpace
from carbide.nas.search import run_search

SPACE = ScaleSpace(width=4, depth_range=(1, 4))


def fake_flops(arch):
    return 1000 + sum(sum(m.depths) * 10 for m in arch.modules) + int(
        100 * arch.fusion_density())


class FakeEvaluator(Evaluator):
    """Score rises with depth and fusion, with diminishing returns."""

    name = "fake"

    def key(self, arch):
        return arch.key()

    def _evaluate(self, arch):
        f = fake_flops(arch)
        return Evaluation(val_acc=float(np.log(f - 999)), flops=float(f))


def test_rank_front_and_crowding():
    flops = [1, 2, 3, 2, 5]
    score = [1, 3, 2, 1, 4]
    assert nondominated_rank(flops, score).tolist() == [0, 0, 1, 1, 0]
    items = [{"flops": f, "s": s, "i": i}
             for i, (f, s) in enumerate(zip(flops, score, strict=True))]
    assert [it["i"] for it in pareto_front(items, "s")] == [0, 1, 4]
    d = crowding_distance([1, 2, 3], [1, 2, 3])
    assert np.isinf(d[0]) and np.isinf(d[2]) and np.isfinite(d[1])


def test_evolution_respects_budget_and_resumes():
    budget = 1000 + 30 * 10 + 50
    strat = ParetoEvolution(SPACE, fake_flops, budget, population=4, seed=0)
    hist = run_search(strat, FakeEvaluator(), 12)
    assert len(hist) == 12
    assert all(r["flops"] <= budget for r in hist.records)
    state = strat.state_dict()
    a = strat.ask()
    twin = ParetoEvolution(SPACE, fake_flops, budget, population=4, seed=9)
    twin.load_state_dict(state)
    assert twin.ask() == a
    with pytest.raises(InvalidConfigError, match="population"):
        ParetoEvolution(SPACE, fake_flops, budget, population=5).load_state_dict(state)


def test_budget_below_smallest_is_refused():
    smallest = fake_flops(SPACE.smallest())
    with pytest.raises(InvalidConfigError, match="below the smallest subnet"):
        ParetoEvolution(SPACE, fake_flops, smallest - 1)

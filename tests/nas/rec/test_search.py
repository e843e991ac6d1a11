from __future__ import annotations

import numpy as np

from carbide.nas import RandomSearch, RegularizedEvolution, run_search
from carbide.nas.evaluators import Evaluation, Evaluator
from carbide.nas.rec import make_rec_space


class ToyEvaluator(Evaluator):
    """Score = fc blocks at max width, minus inputs used (a smooth toy objective)."""

    name = "toy"

    def __init__(self, space):
        super().__init__()
        self.space = space

    def _evaluate(self, cell):
        arch = self.space.to_arch(cell)
        score = sum((b.dense_op == "fc") + (b.dense_dim == self.space.max_dense)
                    - 0.1 * len(b.dense_in) for b in arch.blocks)
        return Evaluation(val_acc=float(score), cost_s=0.0)


def test_evolution_improves_a_toy_objective():
    space = make_rec_space("full", dense_dims=(4, 8, 16))
    rea = RegularizedEvolution(space, population=10, sample_size=3, seed=0)
    hist = run_search(rea, ToyEvaluator(space), 120)
    initial = hist.val_accs[:10].max()
    assert hist.best_so_far[-1] > initial + 1.0
    rand = run_search(RandomSearch(space, seed=0), ToyEvaluator(space), 120)
    assert hist.best_so_far[-1] > rand.best_so_far[-1]


def test_rea_state_dict_resumes_with_nasrec_cells():
    space = make_rec_space("small", dense_dims=(4, 8), num_blocks=3)
    a = RegularizedEvolution(space, population=4, sample_size=2, seed=3)
    ev = ToyEvaluator(space)
    for _ in range(6):
        c = a.ask()
        a.tell(c, ev(c))
    b = RegularizedEvolution(space, population=4, sample_size=2, seed=99)
    b.load_state_dict(a.state_dict())
    assert [a.ask().arch for _ in range(5)] == [b.ask().arch for _ in range(5)]


def test_duplicates_are_free():
    space = make_rec_space("small", dense_dims=(4,), sparse_dims=(2,), num_blocks=1,
                           interactions=False)
    hist = run_search(RandomSearch(space, seed=0), ToyEvaluator(space), 2, max_asks=50)
    assert len(set(r["key"] for r in hist.records)) == len(hist.records)
    assert hist.duplicates > 0
    assert np.all(np.diff(hist.best_so_far) >= 0)

"""Strategies and run_search: budgets, reproducibility, state_dict resume, duplicates."""

from __future__ import annotations

import json

import numpy as np
import pytest

from carbide.datasets import NASBench101, NASBench201
from carbide.exceptions import InvalidConfigError
from carbide.nas import (
    NB101Evaluator,
    NB201Evaluator,
    NB201Space,
    RandomSearch,
    RegularizedEvolution,
    SearchHistory,
    make_space,
    make_strategy,
    run_search,
)
from carbide.nas.evaluators import Evaluation
from carbide.testing import write_nasbench101_fixture, write_nasbench201_fixture


def test_rea_beats_random_on_a_smooth_objective(synthetic):
    rea, rnd = [], []
    for seed in range(5):
        rea.append(run_search(RegularizedEvolution(NB201Space(), 10, 3, seed), synthetic(),
                              80).best_so_far[-1])
        rnd.append(run_search(RandomSearch(NB201Space(), seed), synthetic(), 80)
                   .best_so_far[-1])
    assert np.mean(rea) > np.mean(rnd)


def test_rea_ages_out_the_oldest_member():
    rea = RegularizedEvolution(NB201Space(), population=3, sample_size=2, seed=0)
    cells = [rea.ask() for _ in range(5)]
    for i, cell in enumerate(cells):
        rea.tell(cell, Evaluation(val_acc=100.0 - i))
    # The best (first) is gone although it is the best: aging, not worst-removal.
    assert [c for c, _ in rea.members] == cells[2:]


def test_state_dict_rejects_another_strategy():
    with pytest.raises(InvalidConfigError, match="rea"):
        RandomSearch(NB201Space()).load_state_dict(RegularizedEvolution(NB201Space()).state_dict())
    with pytest.raises(InvalidConfigError, match="population"):
        RegularizedEvolution(NB201Space(), 5, 2).load_state_dict(
            RegularizedEvolution(NB201Space(), 6, 2).state_dict())


def test_budget_errors(synthetic):
    rea = RegularizedEvolution(NB201Space(), population=20, sample_size=5)
    with pytest.raises(InvalidConfigError, match="initial population"):
        run_search(rea, synthetic(), 10)
    with pytest.raises(InvalidConfigError, match="budget"):
        run_search(RandomSearch(NB201Space()), synthetic(), 0)
    with pytest.raises(InvalidConfigError, match="sample_size"):
        RegularizedEvolution(NB201Space(), population=3, sample_size=4)
    with pytest.raises(InvalidConfigError, match="strategy"):
        make_strategy("bohb", NB201Space())


def test_duplicates_are_free_and_small_tables_terminate(tmp_path):
    bench = NASBench201.from_file(write_nasbench201_fixture(tmp_path, num_cells=12))
    space = make_space("nb201", bench=bench)
    with pytest.raises(InvalidConfigError, match="exceeds the 12 cells"):
        run_search(RandomSearch(space), NB201Evaluator(bench), 13)
    ev = NB201Evaluator(bench)
    history = run_search(RandomSearch(space, seed=0), ev, 12)
    assert len(history) == 12 and history.duplicates > 0 and not history.exhausted
    assert history.best["val_acc"] == pytest.approx(ev.optimum())
    # A strategy that can only repeat itself stops at max_asks.
    stuck = run_search(RandomSearch(space, seed=0), ev, 12, history=None, max_asks=5)
    assert stuck.exhausted and len(stuck) == 0 and stuck.duplicates == 5


def test_rea_on_a_nb101_table_fixture(tmp_path):
    bench = NASBench101.from_file(write_nasbench101_fixture(tmp_path, num_cells=5))
    space = make_space("nb101", bench=bench)
    history = run_search(RegularizedEvolution(space, 3, 2, seed=0), NB101Evaluator(bench), 5)
    assert sorted(history.val_accs) == [90.0, 91.0, 92.0, 93.0, 94.0]
    assert history.total_cost_s == 0.0  # the subset records no training time


@pytest.mark.data
def test_rea_and_random_on_real_nb201(shared_root):
    bench = NASBench201.load(shared_root)
    regrets = {}
    for name in ("random", "rea"):
        final = []
        for seed in range(3):
            ev = NB201Evaluator(bench)
            history = run_search(make_strategy(name, NB201Space(), seed=seed), ev, 100)
            assert len(history) == 100
            final.append(history.regret(ev.optimum())[-1])
        regrets[name] = float(np.mean(final))
    assert all(0.0 <= r < 5.0 for r in regrets.values())


def test_noisy_nb201_trials_resume_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("CARBIDE_PROGRESS", "0")
    bench = NASBench201.from_file(write_nasbench201_fixture(tmp_path, num_cells=40))
    space = make_space("nb201", bench=bench)

    def start():
        return (RegularizedEvolution(space, 5, 2, seed=1),
                NB201Evaluator(bench, trial="random", seed=4))

    strategy, ev = start()
    reference = run_search(strategy, ev, 30, progress=True)
    strategy, ev = start()
    head = run_search(strategy, ev, 15)
    state = json.loads(json.dumps([strategy.state_dict(), ev.state_dict(), head.to_dict()]))
    strategy, ev = start()
    ev._rng = np.random.default_rng(123)  # overwritten by the saved state
    strategy.load_state_dict(state[0])
    ev.load_state_dict(state[1])
    tail = run_search(strategy, ev, 30, history=SearchHistory.from_dict(state[2]))
    assert tail.val_accs.tolist() == reference.val_accs.tolist()

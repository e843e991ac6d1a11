"""The contract every search strategy meets (ask/tell with ``run_search``): budgets,
reproducibility, best-so-far and regret, and ``state_dict`` resume. Parametrized over every
strategy by the ``strategy`` fixture (tests/nas/conftest.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from carbide.nas import SearchHistory, run_search


def test_budget_is_respected_and_runs_are_reproducible(strategy, space, synthetic):
    runs = []
    for _ in range(2):
        ev = synthetic()
        history = run_search(strategy(space(), 7), ev, 24)
        assert len(history) == history.queries == ev.queries == 24
        assert len({r["key"] for r in history.records}) == 24
        assert history.asks == 24 + history.duplicates
        assert ev.total_cost_s == pytest.approx(24.0) == history.total_cost_s
        runs.append([r["key"] for r in history.records])
    assert runs[0] == runs[1]
    other = run_search(strategy(space(), 8), synthetic(), 24)
    assert [r["key"] for r in other.records] != runs[0]


def test_best_so_far_and_regret(strategy, space, synthetic):
    history = run_search(strategy(space(), 0), synthetic(), 20)
    best = history.best_so_far
    assert best.shape == (20,) and np.all(np.diff(best) >= 0)
    assert best[-1] == history.val_accs.max() == history.best["val_acc"]
    assert np.allclose(history.regret(24.0), 24.0 - best)
    assert history.best["cell"] in history.cells


def test_state_dict_resume_gives_the_identical_continuation(strategy, space, synthetic):
    """Stopped after 13 queries (mid-round for NASGEM, whose queue is then not empty),
    saved through JSON, resumed in a fresh object: the same 26 queries as one run."""
    reference = run_search(strategy(space(), 3), synthetic(), 26)

    ev1 = synthetic()
    first = strategy(space(), 3)
    head = run_search(first, ev1, 13)
    saved = json.loads(json.dumps({"strategy": first.state_dict(), "evaluator": ev1.state_dict(),
                                   "history": head.to_dict()}))
    resumed, ev2 = strategy(space(), 99), synthetic()
    resumed.load_state_dict(saved["strategy"])
    ev2.load_state_dict(saved["evaluator"])
    tail = run_search(resumed, ev2, 26, history=SearchHistory.from_dict(saved["history"]))
    assert [r["key"] for r in tail.records] == [r["key"] for r in reference.records]
    assert np.array_equal(tail.best_so_far, reference.best_so_far)
    assert ev2.queries == 26

from __future__ import annotations

import pytest

from carbide.exceptions import InvalidConfigError
from carbide.serverless.cost import TimeModel
from carbide.serverless.scheduler import InfeasiblePlanError, Scheduler, fixed_plan
from carbide.serverless.trainer import Plan

MODEL = TimeModel(num_params=11_000_000, samples=50_000, batch=32, invoke_s=0.05,
                  sample_s=0.02, bandwidth=3e8, store_bandwidth=3e9)


@pytest.mark.parametrize("budget", [0.5, 2.0, 8.0])
@pytest.mark.parametrize("method", ["bo", "bo1d"])
def test_bo_never_plans_past_the_budget(budget, method):
    s = Scheduler(MODEL, objective="time", budget=budget, method=method, sampler="tpe",
                  trials=25, seed=1)
    try:
        choice = s.plan(epochs=2)
    except InfeasiblePlanError as exc:
        assert exc.best is not None and exc.best.cost > budget
        return
    assert choice.feasible and choice.cost <= budget
    # the returned figures are the model's for that plan
    again = fixed_plan(MODEL, "hierarchical", choice.plan, 2, budget=budget)
    assert again.cost == pytest.approx(choice.cost) and again.feasible


def test_gp_cost_objective_meets_the_deadline_and_beats_fixed_configs():
    deadline = 1800.0
    s = Scheduler(MODEL, objective="cost", deadline_s=deadline, trials=15, seed=0)
    best = s.plan(epochs=3)
    assert best.feasible and best.seconds <= deadline
    for w, mem in ((50, 3008), (100, 3008), (150, 10240)):
        f = fixed_plan(MODEL, "hierarchical", Plan(w, mem), 3, deadline_s=deadline)
        if f.feasible:
            assert best.cost <= f.cost * 1.25  # BO lands near or below every feasible fixed one


def test_infeasible_limits_fail_before_spending_naming_the_best_plan():
    s = Scheduler(MODEL, objective="cost", deadline_s=1.0, budget=0.001, sampler="tpe",
                  trials=10)
    with pytest.raises(InfeasiblePlanError, match=r"the best found is \d+ workers x \d+ MB"):
        s.plan(epochs=5)
    assert s.spent_cost == 0.0


def test_observe_corrects_the_model_and_shrinks_what_is_left():
    s = Scheduler(MODEL, deadline_s=100.0, budget=1.0, trials=5, sampler="tpe")
    e = MODEL.epoch("hierarchical", 4, 1769)
    s.observe(Plan(4, 1769), 3 * e.seconds / e.rounds, 0.25)
    assert s.correction == pytest.approx(2.0)
    assert s.remaining() == (pytest.approx(100 - 3 * e.seconds / e.rounds), 0.75)
    state = s.state_dict()
    s2 = Scheduler(MODEL)
    s2.load_state_dict(state)
    assert s2.state_dict() == state


def test_bad_scheduler_inputs():
    with pytest.raises(InvalidConfigError, match="objective"):
        Scheduler(MODEL, objective="speed")
    with pytest.raises(InvalidConfigError, match="128-10240"):
        Scheduler(MODEL, memory=(64, 1024))
    with pytest.raises(InvalidConfigError, match="min <= max"):
        Scheduler(MODEL, workers=(10, 2))


def test_no_round_starts_past_the_budget_or_the_deadline():
    plan = Plan(4, 1769)
    e = MODEL.epoch("hierarchical", 4, 1769)
    round_s, round_cost = e.seconds / e.rounds, e.cost / e.rounds
    s = Scheduler(MODEL, deadline_s=1e9, budget=2.5 * round_cost, trials=5, sampler="tpe")
    assert s.next_round(plan) == (pytest.approx(round_s), pytest.approx(round_cost))
    assert s.stop_reason(plan) is None
    s.observe(plan, round_s, round_cost)  # as modelled: correction stays 1
    assert s.stop_reason(plan) is None  # 1.5 rounds' money left
    s.observe(plan, round_s, round_cost)
    why = s.stop_reason(plan)  # half a round's money left: the round is not started
    assert why is not None and why.startswith("budget:") and "4 workers x 1769 MB" in why
    assert s.spent_cost == pytest.approx(2 * round_cost) and s.spent_cost <= s.budget
    # observed rounds twice as slow as modelled: the deadline check uses the correction
    t = Scheduler(MODEL, deadline_s=5 * round_s, trials=5, sampler="tpe")
    t.observe(plan, 3 * round_s, 0.0)  # correction (1 + 3) / 2 = 2; 2 rounds' time left
    assert t.stop_reason(plan) is None
    t.observe(plan, round_s, 0.0)  # correction 1.5; 1 round's time left, 1.5 needed
    assert t.stop_reason(plan).startswith("deadline:")


def test_time_outside_rounds_counts_against_the_deadline():
    s = Scheduler(MODEL, deadline_s=100.0, budget=1.0, trials=5, sampler="tpe")
    s.spend(30.0)  # calibration / evaluation: no money, but the clock runs
    assert s.remaining() == (pytest.approx(70.0), pytest.approx(1.0))
    with pytest.raises(InvalidConfigError, match="seconds"):
        s.spend(-1.0)
    s.spend(80.0)
    with pytest.raises(InfeasiblePlanError, match=r"nothing left to plan with: -10\.0 s of the "
                                                  r"deadline, \$1\.000000 of the budget left"):
        s.plan(epochs=1)

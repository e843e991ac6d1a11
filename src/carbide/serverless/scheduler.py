"""The SMLT scheduler: Bayesian optimization over (workers, memory) under a deadline and a budget.

SMLT (arXiv 2205.01853, Section IV-C) picks the number of functions and their memory size with
Bayesian optimization on a model of time and cost, and re-plans while training runs, as the
observed throughput and the training state (epochs still needed) change. Here the model is
:class:`~carbide.serverless.cost.TimeModel` (calibrated locally, so every plan's figures are
*modelled*), the optimizer is Optuna's GP sampler (or TPE), and:

- ``objective="cost"``: the cheapest plan whose predicted time to target meets the deadline;
  ``objective="time"``: the fastest plan whose predicted cost fits the budget;
- a plan whose prediction breaks the deadline or the budget is never returned; when no trial
  is feasible, :class:`InfeasiblePlanError` names the best plan found (least violation) before
  anything is spent;
- :meth:`Scheduler.observe` corrects the model by the ratio of observed to predicted round
  time, and :meth:`Scheduler.plan` is called again every ``K`` rounds with what is left of the
  deadline, the budget and the epochs.

Baselines: ``method="bo1d"`` (the prototype: BO over workers only, memory fixed) and
:func:`fixed_plan` (a fixed configuration, checked against the same model).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .._imports import optional_import
from .._validate import check_int, check_real
from ..exceptions import CarbideError, InvalidConfigError
from .cost import MAX_MEMORY_MB, MIN_MEMORY_MB, TimeModel, check_memory
from .trainer import Plan

__all__ = ["METHODS", "OBJECTIVES", "InfeasiblePlanError", "PlanChoice", "Scheduler",
           "fixed_plan"]

METHODS: tuple[str, ...] = ("bo", "bo1d")
OBJECTIVES: tuple[str, ...] = ("cost", "time")


class InfeasiblePlanError(CarbideError, ValueError):
    """No plan meets the deadline and the budget; ``best`` is the closest one found."""

    def __init__(self, message: str, best: PlanChoice | None = None) -> None:
        super().__init__(message)
        self.best = best


@dataclass(frozen=True)
class PlanChoice:
    """A plan with its modelled time (seconds) and cost (dollars) for the remaining epochs."""

    plan: Plan
    seconds: float
    cost: float
    feasible: bool
    trials: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self.plan), "seconds": self.seconds, "cost": self.cost,
                "feasible": self.feasible, "trials": self.trials}

    def __str__(self) -> str:
        return (f"{self.plan.workers} workers x {self.plan.memory_mb} MB: modelled "
                f"{self.seconds:.0f} s, ${self.cost:.4f}")


def _predict(model: TimeModel, scheme: str, plan: Plan, epochs: float, correction: float
             ) -> tuple[float, float]:
    e = model.epoch(scheme, plan.workers, plan.memory_mb)
    return e.seconds * epochs * correction, e.cost * epochs * correction


def _violation(seconds: float, cost: float, deadline: float | None, budget: float | None
               ) -> float:
    v = 0.0
    if deadline is not None and seconds > deadline:
        v += seconds / deadline - 1
    if budget is not None and cost > budget:
        v += cost / budget - 1
    return v


def fixed_plan(model: TimeModel, scheme: str, plan: Plan, epochs: float, *,
               deadline_s: float | None = None, budget: float | None = None,
               correction: float = 1.0, min_memory_mb: int = MIN_MEMORY_MB) -> PlanChoice:
    """A fixed configuration's modelled time and cost, and whether it is feasible (within
    the deadline and the budget, with memory for the worker's footprint ``min_memory_mb``)."""
    s, c = _predict(model, scheme, plan, epochs, correction)
    fits = plan.memory_mb >= min_memory_mb
    return PlanChoice(plan, s, c, fits and _violation(s, c, deadline_s, budget) == 0)


class Scheduler:
    """Plan (workers, memory) for the epochs left, under the deadline and the budget.

    Args:
        model: the calibrated :class:`~carbide.serverless.cost.TimeModel`.
        scheme: the aggregation scheme the plan runs.
        objective: ``"cost"`` (cheapest meeting the deadline) or ``"time"`` (fastest within
            the budget).
        deadline_s, budget: limits for the whole run (``None``: none).
        workers: ``(min, max)`` functions to consider (default 1-200).
        memory: ``(min, max)`` MB (default Lambda's 128-10240), searched in 64 MB steps.
        method: ``"bo"`` (2-D) or ``"bo1d"`` (workers only, at ``fixed_memory``).
        sampler: ``"gp"`` (Optuna's GPSampler) or ``"tpe"``.
        trials: objective evaluations per plan.
        seed: sampler seed.
    """

    def __init__(self, model: TimeModel, *, scheme: str = "hierarchical",
                 objective: str = "cost", deadline_s: float | None = None,
                 budget: float | None = None, workers: tuple[int, int] = (1, 200),
                 memory: tuple[int, int] = (MIN_MEMORY_MB, MAX_MEMORY_MB),
                 method: str = "bo", fixed_memory: int = 1769, sampler: str = "gp",
                 trials: int = 40, seed: int = 0) -> None:
        if objective not in OBJECTIVES:
            raise InvalidConfigError(f"unknown objective {objective!r}; choose one of: "
                                     f"{', '.join(OBJECTIVES)}")
        if method not in METHODS:
            raise InvalidConfigError(f"unknown method {method!r}; choose one of: "
                                     f"{', '.join(METHODS)}")
        if sampler not in ("gp", "tpe"):
            raise InvalidConfigError(f"unknown sampler {sampler!r}; choose one of: gp, tpe")
        if deadline_s is not None:
            check_real("deadline_s", deadline_s, 0, math.inf, lo_open=True)
        if budget is not None:
            check_real("budget", budget, 0, math.inf, lo_open=True)
        lo, hi = workers
        check_int("workers min", lo, 1)
        if check_int("workers max", hi, 1) < lo:
            raise InvalidConfigError(f"workers range must be (min, max) with min <= max, got "
                                     f"{workers}")
        check_memory(memory[0])
        check_memory(memory[1])
        check_memory(fixed_memory)
        self.model, self.scheme, self.objective = model, scheme, objective
        self.deadline_s, self.budget = deadline_s, budget
        self.workers, self.memory = (lo, hi), memory
        self.method, self.fixed_memory, self.sampler = method, fixed_memory, sampler
        self.trials, self.seed = check_int("trials", trials, 1), seed
        self.correction = 1.0
        self.spent_s = 0.0
        self.spent_cost = 0.0
        self.replans = 0

    # -- state -------------------------------------------------------------------------------
    def observe(self, plan: Plan, round_seconds: float, round_cost: float) -> None:
        """Record a measured round: the time/cost spent, and the model's correction factor
        (observed over predicted round time, smoothed)."""
        e = self.model.epoch(self.scheme, plan.workers, plan.memory_mb)
        predicted = e.seconds / e.rounds
        ratio = round_seconds / predicted if predicted > 0 else 1.0
        self.correction = 0.5 * self.correction + 0.5 * ratio
        self.spent_s += round_seconds
        self.spent_cost += round_cost

    def spend(self, seconds: float, cost: float = 0.0) -> None:
        """Record time (and money) spent outside training rounds (calibration, evaluation):
        the deadline is the whole run's, so it counts against what is left."""
        check_real("seconds", seconds, 0, math.inf)
        check_real("cost", cost, 0, math.inf)
        self.spent_s += seconds
        self.spent_cost += cost

    def state_dict(self) -> dict[str, Any]:
        return {"correction": self.correction, "spent_s": self.spent_s,
                "spent_cost": self.spent_cost, "replans": self.replans}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.correction = float(state["correction"])
        self.spent_s, self.spent_cost = float(state["spent_s"]), float(state["spent_cost"])
        self.replans = int(state["replans"])

    # -- planning ----------------------------------------------------------------------------
    def next_round(self, plan: Plan) -> tuple[float, float]:
        """Modelled seconds and dollars of one more round of ``plan`` (times the correction
        learnt from the observed rounds)."""
        e = self.model.epoch(self.scheme, plan.workers, plan.memory_mb)
        return (e.seconds / e.rounds * self.correction, e.cost / e.rounds * self.correction)

    def stop_reason(self, plan: Plan) -> str | None:
        """Why not to start another round of ``plan``: ``"deadline: ..."`` or ``"budget:
        ..."`` when its modelled time or cost passes what is left (so a run stops before the
        money is spent, not after), else ``None``."""
        seconds, cost = self.next_round(plan)
        left_s, left_cost = self.remaining()
        if left_s is not None and seconds > left_s:
            return (f"deadline: {max(left_s, 0.0):.1f} s left, the next round of {plan.workers} "
                    f"workers x {plan.memory_mb} MB needs {seconds:.1f} s (modelled)")
        if left_cost is not None and cost > left_cost:
            return (f"budget: ${max(left_cost, 0.0):.6f} left, the next round of "
                    f"{plan.workers} workers x {plan.memory_mb} MB costs ${cost:.6f} "
                    "(modelled)")
        return None

    def remaining(self) -> tuple[float | None, float | None]:
        """What is left of the deadline and of the budget."""
        d = None if self.deadline_s is None else self.deadline_s - self.spent_s
        b = None if self.budget is None else self.budget - self.spent_cost
        return d, b

    def plan(self, epochs: float) -> PlanChoice:
        """The best feasible plan for ``epochs`` more epochs (Optuna BO over the model).

        Raises:
            InfeasiblePlanError: no trial meets the remaining deadline and budget; the error
                names the best plan found.
        """
        optuna = optional_import("optuna", "serverless", purpose="the SMLT scheduler")
        check_real("epochs", epochs, 0, math.inf, lo_open=True)
        deadline, budget = self.remaining()
        if (deadline is not None and deadline <= 0) or (budget is not None and budget <= 0):
            left = ", ".join(x for x in (
                f"{deadline:.1f} s of the deadline" if deadline is not None else "",
                f"${budget:.6f} of the budget" if budget is not None else "") if x)
            raise InfeasiblePlanError(
                f"nothing left to plan with: {left} left after {self.spent_s:.1f} s and "
                f"${self.spent_cost:.6f} spent; raise the limits")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seen: dict[tuple[int, int], tuple[float, float, float]] = {}

        def evaluate(w: int, mem: int) -> tuple[float, float, float]:
            if (w, mem) not in seen:
                s, c = _predict(self.model, self.scheme, Plan(w, mem), epochs, self.correction)
                seen[(w, mem)] = (s, c, _violation(s, c, deadline, budget))
            return seen[(w, mem)]

        def objective(trial: Any) -> float:
            w = trial.suggest_int("workers", *self.workers, log=self.workers[1] > 16)
            lo_mb = self.memory[0]
            hi_mb = lo_mb + (self.memory[1] - lo_mb) // 64 * 64  # a whole number of steps
            mem = (trial.suggest_int("memory_mb", lo_mb, hi_mb, step=64)
                   if self.method == "bo" else self.fixed_memory)
            s, c, v = evaluate(w, mem)
            trial.set_constraint("violation", v)  # <= 0 is feasible
            value = c if self.objective == "cost" else s
            # infeasible trials rank behind every feasible one, by how far they miss
            return math.log(value) + (1e3 * (1 + v) if v > 0 else 0.0)

        sampler = (optuna.samplers.GPSampler(seed=self.seed) if self.sampler == "gp"
                   else optuna.samplers.TPESampler(seed=self.seed))
        study = optuna.create_study(direction="minimize", sampler=sampler)
        study.optimize(objective, n_trials=self.trials)
        self.replans += 1
        feasible = [(k, v) for k, v in seen.items() if v[2] == 0]
        idx = 1 if self.objective == "cost" else 0
        if feasible:
            (w, mem), (s, c, _) = min(feasible, key=lambda kv: kv[1][idx])
            return PlanChoice(Plan(w, mem), s, c, True, len(seen))
        (w, mem), (s, c, v) = min(seen.items(), key=lambda kv: kv[1][2])
        best = PlanChoice(Plan(w, mem), s, c, False, len(seen))
        limits = ", ".join(x for x in (
            f"deadline {deadline:.0f} s" if deadline is not None else "",
            f"budget ${budget:.4f}" if budget is not None else "") if x)
        raise InfeasiblePlanError(
            f"no plan among {len(seen)} tried meets the {limits} for {epochs:g} more epochs; "
            f"the best found is {best} (modelled); raise the limits or lower the target",
            best)

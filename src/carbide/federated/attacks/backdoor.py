"""The backdoor attacker of "Curse or Redemption?" (Zawad et al., AAAI 2021, arXiv 2102.00655).

:class:`BackdoorAttack` describes what the malicious clients do:

- **trigger and target**: a :class:`~carbide.federated.attacks.PixelTrigger` and the label it
  should produce;
- **poisoning inside local training**: in a poisoned step a ``poison_fraction`` of the batch is
  replaced by triggered copies relabelled as the target; a ``poison_steps`` share of the local
  steps is poisoned, placed by ``placement`` — ``"spread"`` (evenly over the steps),
  ``"early"`` (the first steps) or ``"last"`` (the last steps). The total amount of poison is
  the same for the three placements, so they compare timing only;
- **timing across rounds** (``rounds``): ``"all"`` (every round the attacker takes part in),
  ``"late:F"`` (only the last fraction F of the rounds), ``"early:F"`` (only the first
  fraction F), ``"every:K"`` (rounds 0, K, 2K, ...), or ``"ood:F"``: the same number of
  rounds as ``late:F``, chosen late *and* when the attacker's data is most out of
  distribution relative to the global model (the paper's adjusted timing; the rule is in
  :func:`ood_attack_now`). Outside its rounds an attacker trains honestly. With
  ``join="scheduled"`` the attackers join every attack round (taking the places of sampled
  benign clients), as in the fixed-frequency attacks of Xie et al. (2020); with
  ``join="sampled"`` they attack only when the server happens to sample them;
- **model replacement** (Bagdasaryan et al., 2020): the attacker scales its update by ``gamma``
  (1 = no boosting; about ``n / eta`` replaces the global model);
- **attack data distribution** (``data``): the clean data an attacker trains on — ``"own"``
  (its partition), ``"iid"`` (a uniform draw from the whole training set) or
  ``"classes:a,b,..."`` (drawn from those classes only); same number of samples as its
  partition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from .trigger import PixelTrigger

__all__ = [
    "JOINS",
    "PLACEMENTS",
    "BackdoorAttack",
    "attack_budget",
    "label_distance",
    "ood_attack_now",
    "parse_attack_data",
    "parse_rounds",
    "poisoned_steps",
]

PLACEMENTS: tuple[str, ...] = ("spread", "early", "last")
JOINS: tuple[str, ...] = ("sampled", "scheduled")


def parse_rounds(spec: str) -> tuple[str, float]:
    """``"all"`` -> ``("all", 0)``; ``"late:F"``, ``"early:F"``, ``"ood:F"`` -> ``(kind, F)``
    with F in (0, 1]; ``"every:K"`` -> ``("every", K)`` with integer K >= 1."""
    kind, _, arg = str(spec).partition(":")
    try:
        if kind == "all" and not arg:
            return "all", 0.0
        if kind in ("late", "early", "ood"):
            frac = float(arg)
            if 0 < frac <= 1:
                return kind, frac
        if kind == "every" and int(arg) >= 1:
            return "every", float(int(arg))
    except ValueError:
        pass
    raise InvalidConfigError(
        f"attack rounds {spec!r} not understood; use all, late:F (0 < F <= 1, the last share "
        f"of rounds), early:F (the first share), ood:F (that many rounds, late and "
        f"out-of-distribution) or every:K (integer K >= 1)")


def attack_budget(frac: float, total_rounds: int) -> int:
    """Attack rounds of ``late:F`` / ``early:F`` / ``ood:F`` over ``total_rounds``:
    ``max(1, round(F * total_rounds))``."""
    return min(total_rounds, max(1, round(frac * total_rounds)))


def label_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Total-variation distance between two label histograms (counts or shares), in [0, 1]:
    ``0.5 * sum |a/sum(a) - b/sum(b)|``. An empty histogram is an error."""
    pa = np.asarray(a, dtype=float)
    pb = np.asarray(b, dtype=float)
    if pa.shape != pb.shape or pa.ndim != 1:
        raise InvalidConfigError(
            f"label histograms must be 1-D of one length, got shapes {pa.shape} and {pb.shape}")
    if pa.sum() <= 0 or pb.sum() <= 0 or (pa < 0).any() or (pb < 0).any():
        raise InvalidConfigError("label histograms need non-negative counts with a positive sum")
    return float(0.5 * np.abs(pa / pa.sum() - pb / pb.sum()).sum())


def ood_attack_now(round_index: int, total_rounds: int, frac: float, distance: float,
                   past_distances: Sequence[float], used: int) -> bool:
    """The ``ood:F`` timing rule: attack in round ``round_index`` (0-based)?

    The attacker has a budget of ``K = attack_budget(F, R)`` attack rounds (as many as
    ``late:F``) and spends them in the *late window*, the last ``min(R, 2K)`` rounds. In a
    window round it attacks when its data is further out of distribution than in the recent
    rounds, ``distance > median(past_distances)`` (with none, it attacks), or when the rounds
    left in the window (this one included) are no more than the budget left, so the whole budget is
    always spent and every timing carries the same total attacker weight.

    Args:
        round_index: this round, 0-based.
        total_rounds: ``R``.
        frac: ``F`` in (0, 1].
        distance: this round's out-of-distribution score; :class:`~carbide.federated.Simulation`
            uses the global model's mean cross-entropy on the attackers' clean data (what an
            attacker can observe); :func:`label_distance` is an oracle alternative.
        past_distances: the scores of the preceding rounds the rule compares with (the
            simulation passes the last 3).
        used: attack rounds already spent.
    """
    budget = attack_budget(frac, total_rounds)
    start = total_rounds - min(total_rounds, 2 * budget)
    if round_index < start or used >= budget:
        return False
    left_in_window = total_rounds - round_index
    if budget - used >= left_in_window:
        return True
    # a tolerance: equal label counts give distances equal up to rounding, not "further"
    return not past_distances or distance > float(np.median(past_distances)) + 1e-9


def parse_attack_data(spec: str) -> tuple[str, tuple[int, ...]]:
    """``"own"``, ``"iid"`` or ``"classes:0,3,7"`` -> ``(kind, classes)``."""
    kind, _, arg = str(spec).partition(":")
    if kind in ("own", "iid") and not arg:
        return kind, ()
    if kind == "classes":
        try:
            classes = tuple(sorted({int(c) for c in arg.split(",")}))
        except ValueError:
            classes = ()
        if classes and min(classes) >= 0:
            return "classes", classes
    raise InvalidConfigError(
        f"attack data {spec!r} not understood; use own, iid or classes:a,b,... "
        f"(non-negative class ids)")


def poisoned_steps(num_steps: int, share: float, placement: str) -> list[bool]:
    """Which of ``num_steps`` local steps carry poison: ``ceil(share * num_steps)`` of them,
    placed ``"spread"`` (evenly), ``"early"`` (first) or ``"last"`` (last)."""
    if placement not in PLACEMENTS:
        raise InvalidConfigError(
            f"unknown poison placement {placement!r}; choose one of: {', '.join(PLACEMENTS)}")
    k = min(num_steps, math.ceil(share * num_steps))
    if placement == "early":
        return [i < k for i in range(num_steps)]
    if placement == "last":
        return [i >= num_steps - k for i in range(num_steps)]
    chosen = {math.floor(j * num_steps / k) for j in range(k)} if k else set()
    return [i in chosen for i in range(num_steps)]


@dataclass(frozen=True)
class BackdoorAttack:
    """The malicious clients' behaviour (see the module docstring for each knob).

    Args:
        trigger: the pixel pattern (default: a 4x4 square one pixel in from the top-left corner).
        target: the backdoor's target label (default 0).
        num_attackers: how many clients are malicious (default 1).
        poison_fraction: share of a poisoned batch replaced by triggered samples (0.5).
        poison_steps: share of the local steps that are poisoned (0.5).
        placement: ``"spread"`` (default), ``"early"`` or ``"last"``.
        rounds: ``"all"`` (default), ``"late:F"``, ``"early:F"``, ``"ood:F"`` or
            ``"every:K"``.
        join: ``"scheduled"`` (default: attackers join every attack round) or ``"sampled"``.
        gamma: model-replacement scale of the attacker's update (1.0).
        data: ``"own"`` (default), ``"iid"`` or ``"classes:a,b,..."``.
    """

    trigger: PixelTrigger = field(default_factory=PixelTrigger)
    target: int = 0
    num_attackers: int = 1
    poison_fraction: float = 0.5
    poison_steps: float = 0.5
    placement: str = "spread"
    rounds: str = "all"
    join: str = "scheduled"
    gamma: float = 1.0
    data: str = "own"

    def __post_init__(self) -> None:
        check_int("target", self.target, 0)
        check_int("num_attackers", self.num_attackers, 0)
        check_real("poison_fraction", self.poison_fraction, 0.0, 1.0, lo_open=True)
        check_real("poison_steps", self.poison_steps, 0.0, 1.0, lo_open=True)
        check_real("gamma", self.gamma, 0.0, 1e6, lo_open=True)
        if self.placement not in PLACEMENTS:
            raise InvalidConfigError(
                f"unknown poison placement {self.placement!r}; choose one of: "
                f"{', '.join(PLACEMENTS)}")
        if self.join not in JOINS:
            raise InvalidConfigError(
                f"unknown attacker join {self.join!r}; choose one of: {', '.join(JOINS)}")
        parse_rounds(self.rounds)
        parse_attack_data(self.data)

    def active(self, round_index: int, total_rounds: int) -> bool:
        """Whether the attackers attack in round ``round_index`` (0-based) of ``total_rounds``.

        For ``ood:F`` this says whether the round is in the late window where the budget may
        be spent; the simulation decides with :func:`ood_attack_now`, which needs the
        round's distances."""
        kind, arg = parse_rounds(self.rounds)
        if kind == "all":
            return True
        if kind == "every":
            return round_index % int(arg) == 0
        budget = attack_budget(arg, total_rounds)
        if kind == "early":
            return round_index < budget
        if kind == "ood":
            return round_index >= total_rounds - min(total_rounds, 2 * budget)
        return round_index >= total_rounds - budget

"""Backdoor attacks on federated learning: pixel triggers, ASR, and the attacker's knobs
(timing across rounds and inside local training, boosting, attack data distribution)."""

from .backdoor import (
    JOINS,
    PLACEMENTS,
    BackdoorAttack,
    attack_budget,
    label_distance,
    ood_attack_now,
    parse_attack_data,
    parse_rounds,
    poisoned_steps,
)
from .trigger import PATTERNS, PixelTrigger, attack_success_rate, backdoor_test_set

__all__ = [
    "JOINS",
    "PATTERNS",
    "PLACEMENTS",
    "BackdoorAttack",
    "PixelTrigger",
    "attack_budget",
    "label_distance",
    "ood_attack_now",
    "attack_success_rate",
    "backdoor_test_set",
    "parse_attack_data",
    "parse_rounds",
    "poisoned_steps",
]

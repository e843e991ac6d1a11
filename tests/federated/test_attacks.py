import pytest
import torch
from torch import nn

from carbide.exceptions import InvalidConfigError
from carbide.federated.attacks import (
    BackdoorAttack,
    PixelTrigger,
    attack_success_rate,
    label_distance,
    ood_attack_now,
    parse_attack_data,
    parse_rounds,
    poisoned_steps,
)


def test_checker_trigger_at_negative_position():
    mask = PixelTrigger("checker", size=2, position=(-3, -3)).mask(6, 6)
    expected = torch.zeros(6, 6, dtype=torch.bool)
    expected[3, 3] = expected[4, 4] = True
    assert torch.equal(mask, expected)


def test_square_and_cross_patterns():
    assert int(PixelTrigger("square", size=3, position=(0, 0)).mask(5, 5).sum()) == 9
    cross = PixelTrigger("cross", size=3, position=(1, 1)).mask(5, 5)
    assert int(cross.sum()) == 5 and bool(cross[2, 1]) and not bool(cross[1, 1])


def test_apply_stamps_every_channel_and_leaves_input_alone():
    x = torch.zeros(2, 3, 8, 8)
    out = PixelTrigger("square", size=2, position=(0, 0), value=0.7).apply(x)
    assert float(x.abs().sum()) == 0.0
    assert torch.allclose(out[:, :, :2, :2], torch.full((2, 3, 2, 2), 0.7))
    assert float(out[:, :, 2:, :].abs().sum()) == 0.0


def test_trigger_that_does_not_fit_is_an_error():
    with pytest.raises(InvalidConfigError, match="does not fit a 4x4 image"):
        PixelTrigger(size=4, position=(2, 2)).mask(4, 4)
    with pytest.raises(InvalidConfigError, match="unknown trigger pattern 'star'"):
        PixelTrigger("star")


class _Constant(nn.Module):
    def __init__(self, label: int, classes: int = 3):
        super().__init__()
        self.label, self.classes = label, classes

    def forward(self, x):
        out = torch.zeros(len(x), self.classes)
        out[:, self.label] = 1.0
        return out


class _TriggerDetector(nn.Module):
    """Predicts class 2 when pixel (0, 0) is lit, else the label stored in pixel (1, 1)."""

    def forward(self, x):
        lit = x[:, 0, 0, 0] > 0.5
        label = x[:, 0, 1, 1].long()
        pred = torch.where(lit, torch.full_like(label, 2), label)
        return nn.functional.one_hot(pred, 3).float()


def test_asr_excludes_target_class_samples():
    y = torch.tensor([0, 1, 2, 2, 1])
    x = torch.zeros(5, 1, 4, 4)
    x[:, 0, 1, 1] = y.float()
    trig = PixelTrigger("square", size=1, position=(0, 0), value=1.0)
    # a model that always says the target: every non-target triggered image is a success
    assert attack_success_rate(_Constant(2), x, y, trig, target=2) == 1.0
    # a model that never says the target: no success, target-class images not counted
    assert attack_success_rate(_Constant(0), x, y, trig, target=2) == 0.0
    # a backdoored model hits all 3 non-target images; a clean copy of the target class
    # (true label 2) would have been counted as a hit if it were not excluded
    assert attack_success_rate(_TriggerDetector(), x, y, trig, target=2) == 1.0
    assert attack_success_rate(_TriggerDetector(), x, y, trig, target=1) == 0.0


def test_asr_is_nan_when_every_sample_is_of_the_target_class():
    import math

    y = torch.tensor([1, 1])
    x = torch.zeros(2, 1, 4, 4)
    trig = PixelTrigger("square", size=1, position=(0, 0))
    assert math.isnan(attack_success_rate(_Constant(1, 2), x, y, trig, target=1))


@pytest.mark.parametrize(("placement", "expected"), [
    ("early", [True, True, False, False, False, False]),
    ("last", [False, False, False, False, True, True]),
    ("spread", [True, False, False, True, False, False]),
])
def test_poisoned_steps_placement(placement, expected):
    assert poisoned_steps(6, 1 / 3, placement) == expected


def test_poisoned_steps_count_is_equal_across_placements():
    for n in (1, 5, 17):
        counts = {sum(poisoned_steps(n, 0.4, p)) for p in ("spread", "early", "last")}
        assert len(counts) == 1 and counts.pop() >= 1


def test_rounds_schedules():
    late = BackdoorAttack(rounds="late:0.25")
    assert [late.active(r, 8) for r in range(8)] == [False] * 6 + [True] * 2
    every = BackdoorAttack(rounds="every:3")
    assert [every.active(r, 7) for r in range(7)] == [True, False, False] * 2 + [True]
    assert all(BackdoorAttack().active(r, 5) for r in range(5))


def test_early_late_and_ood_spend_the_same_budget():
    early = BackdoorAttack(rounds="early:0.25")
    assert [early.active(r, 8) for r in range(8)] == [True] * 2 + [False] * 6
    ood = BackdoorAttack(rounds="ood:0.25")  # window: the last 2K = 4 of 8 rounds
    assert [ood.active(r, 8) for r in range(8)] == [False] * 4 + [True] * 4


def test_label_distance_is_total_variation():
    assert label_distance([1, 0, 0], [1, 0, 0]) == 0.0
    assert label_distance([2, 0], [0, 5]) == 1.0
    assert label_distance([1, 1, 0, 0], [0, 1, 1, 0]) == pytest.approx(0.5)
    with pytest.raises(InvalidConfigError, match="positive sum"):
        label_distance([0, 0], [1, 0])
    with pytest.raises(InvalidConfigError, match="one length"):
        label_distance([1, 0], [1, 0, 0])


def _ood_run(distances, frac=0.25):
    chosen, past = [], []
    for r, d in enumerate(distances):
        if ood_attack_now(r, len(distances), frac, d, past, len(chosen)):
            chosen.append(r)
        past.append(d)
    return chosen


def test_ood_rule_picks_far_rounds_in_the_late_window_and_spends_its_budget():
    # 8 rounds, K = 2, window = rounds 4..7; far rounds (0.9) at 1 (too early) and 5, 6
    assert _ood_run([0.1, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.1]) == [5, 6]
    # no far round in the window: the budget is still spent, in the last rounds
    assert _ood_run([0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1]) == [6, 7]
    # every schedule spends exactly K rounds
    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(20):
        assert len(_ood_run(list(rng.random(12)))) == 3


@pytest.mark.parametrize("spec", ["late:0", "late:1.5", "every:0", "sometimes", "all:3",
                                  "ood:0", "early:2"])
def test_bad_round_specs(spec):
    with pytest.raises(InvalidConfigError, match="attack rounds"):
        parse_rounds(spec)


def test_attack_data_specs():
    assert parse_attack_data("classes:3,1,3") == ("classes", (1, 3))
    assert parse_attack_data("iid") == ("iid", ())
    with pytest.raises(InvalidConfigError, match="classes:a,b"):
        parse_attack_data("classes:x")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"placement": "middle"}, "spread, early, last"),
    ({"poison_fraction": 0.0}, "poison_fraction"),
    ({"gamma": -1.0}, "gamma"),
    ({"join": "always"}, "sampled, scheduled"),
])
def test_attack_config_errors(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        BackdoorAttack(**kwargs)

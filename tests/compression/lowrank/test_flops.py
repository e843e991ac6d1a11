import pytest
from torch import nn

from carbide.compression.lowrank import (
    SmallBNCNN,
    compact,
    count_flops,
    count_params,
    decompose,
    flops_by_module,
    prune_,
    resnet20,
)


def test_conv_and_linear_hand_counts():
    conv = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, stride=2))
    assert count_flops(conv, (4, 10, 10)) == 2 * (8 * 4 * 9) * (5 * 5)
    lin = nn.Sequential(nn.Linear(30, 7))
    assert count_flops(lin, (30,)) == 2 * 30 * 7


def test_resnet20_hand_count():
    # conv1 + 6 convs at 16x32x32 + (stride-2 conv + 5 convs) in stages 2 and 3 + fc
    macs = (32 * 32 * 16 * 3 * 9 + 6 * 32 * 32 * 16 * 16 * 9
            + 16 * 16 * 32 * 16 * 9 + 5 * 16 * 16 * 32 * 32 * 9
            + 8 * 8 * 64 * 32 * 9 + 5 * 8 * 8 * 64 * 64 * 9 + 64 * 10)
    assert count_flops(resnet20(), (3, 32, 32)) == 2 * macs
    assert count_params(resnet20()) == 269_722  # the published 0.27 M


def test_low_rank_pair_hand_count():
    model = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1))
    decompose(model, mode="channel")
    model[0].keep_ranks_(__import__("torch").arange(4))
    # 4 filters of 16x3x3 then a 1x1 conv 4 -> 32, each at 8x8 outputs
    assert count_flops(compact(model, dense_if_cheaper=False), (16, 8, 8)) == (
        2 * 64 * (4 * 16 * 9 + 32 * 4))
    model = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1))
    decompose(model, mode="spatial")
    model[0].keep_ranks_(__import__("torch").arange(4))
    # 3x1 conv 16 -> 4 then 1x3 conv 4 -> 32
    assert count_flops(compact(model, dense_if_cheaper=False), (16, 8, 8)) == (
        2 * 64 * (4 * 16 * 3 + 32 * 4 * 3))


def test_flops_by_module_sums_to_the_total_and_treats_svd_layers_as_one():
    model = SmallBNCNN()
    decompose(model)
    prune_(model, 0.2)
    per = flops_by_module(model, (1, 28, 28))
    assert set(per) == {"conv1", "conv2", "conv3", "fc1", "fc2"}
    assert sum(per.values()) == count_flops(model, (1, 28, 28))


def test_count_flops_restores_training_mode():
    model = SmallBNCNN().train()
    count_flops(model, (1, 28, 28))
    assert model.training
    assert count_flops(model, (1, 28, 28)) == pytest.approx(2 * 6_047_488)

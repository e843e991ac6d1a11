import pytest
import torch
from torch import nn

from carbide.compression.lowrank import (
    SmallBNCNN,
    compact,
    count_flops,
    prune_filters,
    prune_filters_to_flops,
    resnet20,
    truncate_svd,
    truncate_svd_to_flops,
)
from carbide.exceptions import InvalidConfigError


def test_filter_pruning_removes_the_smallest_l1_filters_physically():
    torch.manual_seed(0)
    model = SmallBNCNN()
    with torch.no_grad():
        model.conv1.weight.mul_(torch.arange(1, 33).view(32, 1, 1, 1).float())  # norms grow
    pruned = prune_filters(model, 0.25, groups=[("conv1", "bn1", "conv2")])
    assert pruned.conv1.out_channels == 24 and pruned.bn1.num_features == 24
    assert pruned.conv2.in_channels == 24
    assert torch.equal(pruned.conv1.weight, model.conv1.weight[8:])
    assert torch.equal(pruned.conv2.weight, model.conv2.weight[:, 8:])
    # conv1 and conv2 shrink by 8/32 of their channels, the rest is unchanged
    full = count_flops(model, (1, 28, 28))
    saved = 2 * (28 * 28 * 8 * 9 + 14 * 14 * 64 * 8 * 9)
    assert count_flops(pruned, (1, 28, 28)) == full - saved
    pruned.eval()(torch.randn(2, 1, 28, 28))


def test_filter_pruned_model_matches_the_masked_model():
    torch.manual_seed(0)
    model = SmallBNCNN().eval()
    pruned = prune_filters(model, 0.5).eval()
    masked = prune_filters(model, 0.0).eval()  # amount 0 is an unchanged copy
    x = torch.randn(2, 1, 28, 28)
    assert torch.allclose(masked(x), model(x))
    assert pruned.conv2.out_channels == 32 and pruned.conv3.in_channels == 32


@pytest.mark.parametrize("target", [1.3, 1.8])
def test_filter_pruning_reaches_a_flops_target(target):
    model = resnet20()
    f0 = count_flops(model, (3, 32, 32))
    pruned, amount = prune_filters_to_flops(model, (3, 32, 32), f0 / target)
    reached = f0 / count_flops(pruned, (3, 32, 32))
    assert target <= reached < target * 1.1 and 0 < amount < 1


def test_filter_pruning_reports_unreachable_targets():
    with pytest.raises(InvalidConfigError, match="filter pruning cannot reach"):
        prune_filters_to_flops(resnet20(), (3, 32, 32), 1e6)


def test_filter_pruning_needs_groups_for_other_models():
    with pytest.raises(InvalidConfigError, match="groups="):
        prune_filters(nn.Sequential(nn.Conv2d(1, 2, 3)), 0.5)
    with pytest.raises(InvalidConfigError, match="amount"):
        prune_filters(SmallBNCNN(), 1.0)


def test_truncated_svd_reaches_a_flops_target():
    torch.manual_seed(0)
    model = SmallBNCNN()
    f0 = count_flops(model, (1, 28, 28))
    svd, energy = truncate_svd_to_flops(model, (1, 28, 28), f0 / 2.0)
    reached = f0 / count_flops(compact(svd), (1, 28, 28))
    assert 2.0 <= reached < 2.3 and 0 < energy < 1
    # a slightly smaller energy misses the target
    assert f0 / count_flops(compact(truncate_svd(model, energy * 0.9)), (1, 28, 28)) < reached

import numpy as np
import pytest
import torch
from torch import nn

from carbide.nas.scale.space import ScaleSpace
from carbide.nas.scale.supernet import BasicBlock, ScaleNet, count_flops, recalibrate_bn

SPACE = ScaleSpace(width=4, depth_range=(1, 3))


@pytest.fixture(scope="module")
def supernet():
    torch.manual_seed(0)
    return ScaleNet(SPACE, 5)


def test_random_subnet_shapes(supernet):
    rng = np.random.default_rng(0)
    x = torch.randn(2, 3, 64, 96)
    supernet.eval()
    with torch.no_grad():
        for _ in range(4):
            out = supernet(x, SPACE.sample(rng))
            assert out.shape == (2, 5, 16, 24)
            assert torch.isfinite(out).all()


def test_subnet_equals_exported_standalone(supernet):
    rng = np.random.default_rng(1)
    x = torch.randn(2, 3, 64, 64)
    # give BN non-trivial statistics first
    recalibrate_bn(supernet, [torch.randn(4, 3, 64, 64)], SPACE.largest())
    for _ in range(3):
        arch = SPACE.sample(rng)
        sub = supernet.export(arch)
        assert sum(p.numel() for p in sub.parameters()) < sum(
            p.numel() for p in supernet.parameters())
        supernet.eval()
        sub.eval()
        with torch.no_grad():
            assert torch.equal(supernet(x, arch), sub(x))
        # training the exported net does not touch the supernet
        before = supernet.head[-1].weight.clone()
        with torch.no_grad():
            sub.head[-1].weight.add_(1.0)
        assert torch.equal(supernet.head[-1].weight, before)


def test_subnet_uses_only_its_paths(supernet):
    arch = SPACE.smallest()
    sub = supernet.export(arch)
    assert not any("fuse" in k for k in sub.state_dict())  # no fusion bit set
    assert all(len(b) == 1 for st in sub.stages for m in st for b in m.branches)


def test_bn_recalibration_changes_running_stats_only(supernet):
    arch = SPACE.sample(np.random.default_rng(2))
    params = {k: v.clone() for k, v in supernet.named_parameters()}
    stats = {k: v.clone() for k, v in supernet.named_buffers() if "running" in k}
    seen = recalibrate_bn(supernet, [torch.randn(4, 3, 64, 64) * 3 + 1 for _ in range(2)], arch)
    assert seen == 8
    for k, v in supernet.named_parameters():
        assert torch.equal(v, params[k]), k
    changed = [k for k, v in supernet.named_buffers() if "running" in k
               and not torch.equal(v, stats[k])]
    assert any("stem" in k for k in changed)
    assert not supernet.training
    assert all(m.momentum == 0.1 for m in supernet.modules() if isinstance(m, nn.BatchNorm2d))


def test_flops_match_hand_count():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8),
                        BasicBlock(8))
    h = w = 32
    # conv 3->8 at 16x16 output, then two 8->8 3x3 convs at 16x16; 2 FLOPs per multiply-add
    hand = 2 * (3 * 8 * 9 * 16 * 16) + 2 * 2 * (8 * 8 * 9 * 16 * 16)
    assert count_flops(net, (h, w)) == hand


def test_flops_order(supernet):
    big = count_flops(supernet, (64, 64), SPACE.largest())
    small = count_flops(supernet, (64, 64), SPACE.smallest())
    assert 0 < small < big
    assert count_flops(supernet.export(SPACE.largest()), (64, 64)) == big


def test_bad_input_size(supernet):
    from carbide.exceptions import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="multiples of 32"):
        supernet(torch.zeros(1, 3, 40, 64), SPACE.smallest())
    with pytest.raises(InvalidConfigError, match="needs an architecture"):
        supernet(torch.zeros(1, 3, 64, 64))


def test_flops_table_is_exact(supernet):
    from carbide.nas.scale.supernet import FlopsTable

    table = FlopsTable(supernet, (64, 64))
    rng = np.random.default_rng(3)
    for arch in [SPACE.largest(), SPACE.smallest()] + [SPACE.sample(rng) for _ in range(3)]:
        assert table(arch) == count_flops(supernet, (64, 64), arch)

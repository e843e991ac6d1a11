"""deploy(): per-layer factorize decisions, BN folding, channels_last, equality with the SVD
model in eval mode, FLOPs of what runs, the latency cache."""

import pickle
import subprocess
import sys

import pytest
import torch
from torch import nn

from carbide.compression.lowrank import (
    LatencyCache,
    count_flops,
    decompose,
    deploy,
    export_model,
    factorize_decisions,
    fastest_call,
    prune_,
    resnet20,
    svd_layers,
)
from carbide.exceptions import InvalidConfigError


def _bn_random(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model


def _net(seed=0, mode="channel"):
    torch.manual_seed(seed)
    model = _bn_random(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1, stride=2), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10)))
    decompose(model, mode=mode, init="random")
    prune_(model, 0.3)
    return model.eval()


def _fake_timer(pair_wins):
    """Times that say the pair wins (or loses) everywhere, with no clock involved."""
    def timer(modules, x):
        return [1.0, 2.0] if pair_wins else [2.0, 1.0]
    return timer


@pytest.mark.parametrize("mode", ["channel", "spatial"])
@pytest.mark.parametrize("factorize", ["always", "flops", "latency"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_deployed_model_equals_the_svd_model_in_eval_mode(mode, factorize, channels_last):
    model = _net(mode=mode)
    out = deploy(model, (3, 8, 8), factorize=factorize, batch=2, channels_last=channels_last,
                 timer=_fake_timer(True))
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(out(x), model(x), atol=1e-5, rtol=1e-4)
    kinds = {type(m) for m in out.modules()}
    assert nn.BatchNorm2d not in kinds  # folded into the convs
    assert all(t.__module__.startswith("torch.") for t in kinds)
    assert not out.training


def test_resnet20_deploys_equal_with_merged_and_factorized_layers():
    torch.manual_seed(0)
    model = _bn_random(resnet20())
    decompose(model, init="svd")
    prune_(model, 0.1)
    model.eval()
    names = list(svd_layers(model))
    calls = []

    def timer(modules, x):  # the pair "pays" except on 16-channel inputs
        calls.append(x.shape)
        return [2.0, 1.0] if x.shape[1] == 16 else [1.0, 2.0]

    decisions = factorize_decisions(model, (3, 32, 32), batch=3, timer=timer)
    expect = {n for n in names if not n.startswith("layer1.") and n != "layer2.0.conv1"}
    assert {n for n, d in decisions.items() if d["factorize"]} == expect
    assert all(shape[0] == 3 for shape in calls)  # timed at the target batch
    out = deploy(model, (3, 32, 32), decisions=decisions)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(out(x), model(x), atol=1e-4, rtol=1e-4)
    # FLOPs count what runs: merged layers count their dense FLOPs
    merged = deploy(model, (3, 32, 32), decisions={n: {"factorize": False} for n in names})
    assert count_flops(merged, (3, 32, 32)) == count_flops(resnet20(), (3, 32, 32))
    pairs = deploy(model, (3, 32, 32), factorize="always")
    assert count_flops(pairs, (3, 32, 32)) < count_flops(out, (3, 32, 32)) < count_flops(
        merged, (3, 32, 32))


def test_flops_policy_hand_case():
    # 16 -> 16 3x3 conv at rank 8: the pair costs 8 * (144 + 16) = 1280 < 2304 MACs per pixel;
    # at rank 15 it costs 2400 > 2304
    model = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1))
    decompose(model)
    model[0].keep_ranks_(torch.arange(8))
    model[1].keep_ranks_(torch.arange(15))
    d = factorize_decisions(model, (16, 6, 6), factorize="flops", margin=0.0)
    assert d["0"]["factorize"] and not d["1"]["factorize"]
    assert d["0"]["pair"] == 2 * 36 * 8 * (144 + 16) and d["0"]["dense"] == 2 * 36 * 2304
    # margin: 1280 * 1.9 = 2432 > 2304, so a margin of 0.9 keeps rank 8 dense too
    d = factorize_decisions(model, (16, 6, 6), factorize="flops", margin=0.9)
    assert not d["0"]["factorize"]


def test_dense_model_gets_the_same_deployment():
    torch.manual_seed(0)
    model = _bn_random(resnet20()).eval()
    out = deploy(model, (3, 32, 32))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(out(x), model(x), atol=1e-4, rtol=1e-4)
    assert count_flops(out, (3, 32, 32)) == count_flops(model, (3, 32, 32))


def test_latency_cache_reuses_measurements_from_its_file(tmp_path):
    model = _net()
    path = tmp_path / "cache.json"
    calls = []

    def timer(modules, x):
        calls.append(1)
        return [1.0, 2.0]

    factorize_decisions(model, (3, 8, 8), batch=2, cache=LatencyCache(path), timer=timer)
    n = len(calls)
    assert n == len(svd_layers(model)) and path.exists()
    again = factorize_decisions(model, (3, 8, 8), batch=2, cache=LatencyCache(path),
                                timer=timer)
    assert len(calls) == n and all(d["factorize"] for d in again.values())
    factorize_decisions(model, (3, 8, 8), batch=4, cache=LatencyCache(path), timer=timer)
    assert len(calls) == 2 * n  # another batch is another measurement
    path.write_text("not json")
    with pytest.raises(InvalidConfigError, match="latency cache"):
        LatencyCache(path)


def test_deployed_model_pickles_and_exports_without_carbide(tmp_path):
    model = _net()
    out = deploy(model, (3, 8, 8), factorize="flops")
    pickle.dumps(out)
    path = tmp_path / "model.pt2"
    export_model(out, (3, 8, 8), path)
    x = torch.randn(3, 3, 8, 8)
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        torch.save(model(x), tmp_path / "y.pt")
    code = (
        "import sys, torch\n"
        "sys.modules['carbide'] = None\n"
        f"p = torch.export.load(r'{path}').module()\n"
        f"x = torch.load(r'{tmp_path / 'x.pt'}'); y = torch.load(r'{tmp_path / 'y.pt'}')\n"
        "assert torch.allclose(p(x), y, atol=1e-5), 'outputs differ'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


def test_bad_options_are_refused():
    model = _net()
    with pytest.raises(InvalidConfigError, match="factorize policy 'fast'"):
        deploy(model, (3, 8, 8), factorize="fast")
    with pytest.raises(InvalidConfigError, match="channels_last=False"):
        deploy(nn.Sequential(nn.Linear(4, 4)), (4,))
    with pytest.raises(InvalidConfigError, match="margin"):
        factorize_decisions(model, (3, 8, 8), factorize="flops", margin=-1)

    class Untraceable(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def forward(self, x):
            return self.conv(x) if x.sum() > 0 else x  # data-dependent branch

    with pytest.raises(InvalidConfigError, match="fold_bn=False"):
        deploy(Untraceable(), (3, 4, 4), factorize="always")
    out = deploy(Untraceable(), (3, 4, 4), factorize="always", fold_bn=False,
                 channels_last=False)
    assert isinstance(out, Untraceable)


def test_fastest_call_gives_one_positive_time_per_module_and_restores_threads():
    before = torch.get_num_threads()
    times = fastest_call([nn.Linear(4, 4), nn.Identity()], torch.randn(2, 4), blocks=2,
                         block_time=1e-4)
    assert len(times) == 2 and all(t > 0 for t in times)
    assert torch.get_num_threads() == before
    with pytest.raises(InvalidConfigError, match="blocks"):
        fastest_call([nn.Identity()], torch.randn(1), blocks=0)

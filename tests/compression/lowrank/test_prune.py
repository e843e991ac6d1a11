import subprocess
import sys

import pytest
import torch
from torch import nn

from carbide.compression.lowrank import (
    SVDModule,
    compact,
    decompose,
    energy_rank,
    export_model,
    layer_ranks,
    prune_,
)
from carbide.exceptions import InvalidConfigError


@pytest.mark.parametrize(("s", "energy", "k"), [
    ([3.0, 4.0], 0.5, 1),          # 16/25 kept >= 0.5
    ([3.0, 4.0], 0.3, 2),          # 16/25 = 0.64 < 0.7
    ([1.0, 1.0, 1.0, 1.0], 0.25, 3),  # exactly 3/4 counts as enough
    ([0.0, 0.0], 0.5, 1),          # all zero: keep one
    ([-5.0, 0.1, 0.1], 0.01, 1),   # sign does not matter
])
def test_energy_rank_hand_cases(s, energy, k):
    assert energy_rank(torch.tensor(s), energy) == k


def _model(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.ReLU(), nn.Conv2d(12, 16, 3),
                          nn.Flatten(), nn.Linear(16 * 6 * 6, 20), nn.ReLU(), nn.Linear(20, 5))
    decompose(model, mode="channel")
    return model


@pytest.mark.parametrize("energy", [0.01, 0.1, 0.5, 0.9])
def test_pruning_keeps_at_least_one_minus_e_of_each_layers_energy(energy):
    model = _model()
    before = {n: m.s.detach().pow(2).sum() for n, m in model.named_modules()
              if isinstance(m, SVDModule)}
    kept = prune_(model, energy)
    for name, m in model.named_modules():
        if isinstance(m, SVDModule):
            assert float(m.s.detach().pow(2).sum()) >= (1 - energy) * float(before[name]) - 1e-6
            assert kept[name][0] == m.rank <= kept[name][1]
    assert layer_ranks(model) == {n: (k, full) for n, (k, full) in kept.items()}


def test_pruning_removes_the_smallest_magnitudes_physically():
    model = nn.Sequential(nn.Linear(4, 4))
    decompose(model)
    with torch.no_grad():
        model[0].s.copy_(torch.tensor([0.1, -3.0, 0.2, 2.0]))
    prune_(model, 0.05)
    assert model[0].rank == 2
    assert model[0].s.detach().tolist() == [-3.0, 2.0]
    assert model[0].U.shape == (4, 2) and model[0].V.shape == (4, 2)


def test_more_energy_prunes_more():
    ranks = [sum(k for k, _ in prune_(_model(), e).values()) for e in (0.05, 0.3, 0.7)]
    assert ranks[0] > ranks[1] > ranks[2]


@pytest.mark.parametrize("energy", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_energy_outside_the_open_interval_is_rejected(energy):
    with pytest.raises(InvalidConfigError, match=r"energy must be a number in \(0.0, 1.0\)"):
        prune_(_model(), energy)


def test_prune_needs_svd_layers():
    with pytest.raises(InvalidConfigError, match="decompose"):
        prune_(nn.Sequential(nn.Linear(3, 3)), 0.1)


@pytest.mark.parametrize("mode", ["channel", "spatial"])
def test_compact_gives_the_pruned_models_outputs_with_plain_layers(mode):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1, stride=2), nn.BatchNorm2d(12),
                          nn.ReLU(), nn.Conv2d(12, 16, 3), nn.Flatten(), nn.Linear(16 * 16, 5))
    decompose(model, mode=mode, init="random")
    prune_(model, 0.3)
    model.eval()
    plain = compact(model)
    x = torch.randn(4, 3, 12, 12)
    assert torch.allclose(plain(x), model(x), atol=1e-5)
    assert not any(isinstance(m, SVDModule) for m in plain.modules())
    assert all(type(m).__module__.startswith("torch.") for m in plain.modules())
    assert any(isinstance(m, SVDModule) for m in model.modules())  # original untouched


def test_compact_picks_dense_when_the_pair_would_be_larger():
    model = nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 10))
    decompose(model)
    prune_(model[1:], 0.9)  # only the second layer pruned
    plain = compact(model)
    assert isinstance(plain[0], nn.Linear)  # rank 10: a pair would hold 200 > 100 weights
    assert isinstance(plain[1], nn.Sequential) and plain[1][0].out_features == model[1].rank


def test_exported_model_runs_without_carbide(tmp_path):
    model = _model()
    prune_(model, 0.2)
    plain = compact(model).eval()
    path = tmp_path / "model.pt2"
    export_model(plain, (3, 8, 8), path)
    x = torch.randn(3, 3, 8, 8)
    torch.save(x, tmp_path / "x.pt")
    torch.save(plain(x).detach(), tmp_path / "y.pt")
    code = (
        "import sys, torch\n"
        "sys.modules['carbide'] = None\n"  # importing carbide would now fail
        f"p = torch.export.load(r'{path}').module()\n"
        f"x = torch.load(r'{tmp_path / 'x.pt'}'); y = torch.load(r'{tmp_path / 'y.pt'}')\n"
        "assert torch.allclose(p(x), y, atol=1e-5), 'outputs differ'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

from __future__ import annotations

import math
import os

import pytest
import torch

from carbide.exceptions import InvalidConfigError
from carbide.serverless.workloads import ResNetSpec, load_workload, resnet18


def test_resnet18_shapes_and_parameter_count():
    assert sum(p.numel() for p in resnet18(64).parameters()) == pytest.approx(11.2e6, rel=0.01)
    net = ResNetSpec(8, 10)()
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert not list(net.buffers())  # GroupNorm: the model state is its parameters


def test_unknown_dataset():
    with pytest.raises(InvalidConfigError, match="cifar10, femnist"):
        load_workload("mnist")


@pytest.mark.slow
def test_ddp_baseline_runs_and_bills_the_vm(tmp_path):
    from carbide.federated.models import ModelSpec
    from carbide.serverless.ddp import run_ddp

    spec = ModelSpec("small-cnn", 1, 3, 8, hidden=8)
    x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 3, (64,))
    res = run_ddp(spec, (x, y), procs=2, batch=8, rounds=3)
    assert res["procs"] == 2 and math.isfinite(res["loss"]) and res["round_s"] > 0
    assert res["cost"] == pytest.approx(res["seconds"] / 3600 * res["price_per_hour"])


HAS_FEMNIST = os.path.exists(os.path.join(os.environ.get("CARBIDE_DATA", ""), "femnist"))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_FEMNIST, reason="needs FEMNIST under $CARBIDE_DATA")
def test_femnist_workload_keeps_whole_writers_in_order():
    from carbide.datasets import load_femnist

    wl = load_workload("femnist", train_samples=300, test_samples=20, hidden=16, seed=3)
    assert not wl.shuffle and wl.writers >= 2 and wl.train[0].shape == (300, 1, 28, 28)
    fed = load_femnist()
    # the subset is the writers' own samples, concatenated writer after writer
    firsts = [x for x, _ in fed.train.values() if len(x) and torch.equal(x[0], wl.train[0][0])]
    assert len(firsts) == 1 and torch.equal(wl.train[0][:len(firsts[0])][:50], firsts[0][:50])
    assert wl.model()(wl.train[0][:2]).shape == (2, 62)

"""Secure training equals plain FedAvg (same seeds) up to fixed-point error, over rounds."""

from __future__ import annotations

import pytest
import torch

from carbide.exceptions import InvalidConfigError
from carbide.federated import FLConfig, LocalTraining, ModelSpec, Simulation
from carbide.federated.secure import CitadelRunConfig, CitadelTrainer, run_citadel


def _synthetic(n=3, m=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    clients = {f"c{i}": (torch.rand(m, 1, 28, 28, generator=g),
                         torch.randint(0, 10, (m,), generator=g)) for i in range(n)}
    test = (torch.rand(30, 1, 28, 28, generator=g), torch.randint(0, 10, (30,), generator=g))
    return clients, test


@pytest.mark.slow
def test_fashion_mnist_dirichlet_secure_equals_plain_over_rounds(shared_root):
    cfg = CitadelRunConfig(dataset="fashion-mnist", enclaves=3, fan_in=2, masks="pairwise",
                           rounds=3, backend="inprocess", hidden=16, train_subset=600,
                           test_subset=200, lr=0.1)
    m, rows = run_citadel(cfg, root=shared_root)
    assert m["max_abs_diff_vs_plain"] < 1e-4  # rounding differences grow through SGD
    assert m["test_acc"] == pytest.approx(m["plain_test_acc"], abs=0.006)
    assert [r["round"] for r in rows if r["run"] == "citadel"] == [1, 2, 3]
    assert m["clipped"] == 0


@pytest.mark.parametrize("scheme", ["admin", "pairwise"])
def test_inprocess_trainer_tracks_simulation(scheme):
    clients, test = _synthetic()
    cfg = FLConfig(rounds=3, local=LocalTraining(lr=0.05), seed=3)
    spec = ModelSpec("small-cnn", hidden=8)
    plain = Simulation(spec, clients, test, FLConfig(rounds=3, clients_per_round=3,
                                                    local=LocalTraining(lr=0.05), seed=3))
    plain.run(progress=False)
    tr = CitadelTrainer(spec, clients, test, cfg, scheme=scheme, backend="inprocess")
    tr.run()
    assert float((tr.state - plain.state).abs().max()) < 1e-5


def test_trainer_refuses_bad_setups():
    clients, test = _synthetic(n=1)
    with pytest.raises(InvalidConfigError, match="n = 1"):
        CitadelTrainer(ModelSpec(), clients, test)
    clients, test = _synthetic(n=2)
    with pytest.raises(InvalidConfigError, match="backend"):
        CitadelTrainer(ModelSpec(), clients, test, backend="sgx")


@pytest.mark.slow
def test_process_enclaves_train_femnist_like_plain_fedavg(shared_root):
    cfg = CitadelRunConfig(dataset="femnist", enclaves=3, fan_in=2, masks="pairwise",
                           rounds=2, backend="local", hidden=32)
    m, rows = run_citadel(cfg, root=shared_root)
    assert m["max_abs_diff_vs_plain"] < 1e-4  # rounding differences grow through SGD
    assert m["test_acc"] == pytest.approx(m["plain_test_acc"], abs=0.006)
    assert all(r["participants"] == 3 for r in rows if r["run"] == "citadel")
    assert m["encrypt_s"] > 0 and m["transport_s"] > 0

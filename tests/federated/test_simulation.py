import numpy as np
import pytest
import torch

from carbide.exceptions import InvalidConfigError
from carbide.federated import (
    FedAvg,
    FLConfig,
    LocalTraining,
    ModelSpec,
    Poison,
    Simulation,
    fedavg,
)
from carbide.federated.attacks import BackdoorAttack, PixelTrigger
from carbide.federated.backends import LocalBackend
from carbide.federated.client import ClientTask, run_client, state_vector

SPEC = ModelSpec("small-cnn", 1, 3, 8, hidden=8)
TRIGGER = PixelTrigger("square", size=2, position=(0, 0))


def _clients(n=6, per=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for i in range(n):
        y = torch.randint(0, 3, (per + i,), generator=gen)  # unequal sizes: weighting matters
        x = torch.rand(per + i, 1, 8, 8, generator=gen) * 0.1
        x[torch.arange(len(y)), 0, 4, y + 2] = 1.0  # the class is visible in one pixel
        out[f"c{i}"] = (x, y)
    return out


def _test_set():
    x = torch.cat([c[0] for c in _clients(3, 10, seed=1).values()])
    y = torch.cat([c[1] for c in _clients(3, 10, seed=1).values()])
    return x, y


def _cfg(**kw):
    base = dict(rounds=4, clients_per_round=3, local=LocalTraining(batch_size=4, lr=0.1),
                seed=3)
    base.update(kw)
    return FLConfig(**base)


class _Recording:
    """FedAvg that keeps what it was given."""

    name = "recording"

    def __init__(self):
        self.calls = []

    def __call__(self, updates, weights, ids):
        self.calls.append((updates.clone(), weights.clone(), list(ids)))
        return FedAvg()(updates, weights, ids)


def test_server_applies_the_sample_weighted_mean():
    agg = _Recording()
    sim = Simulation(SPEC, _clients(), _test_set(), _cfg(), aggregator=agg)
    before = sim.state.clone()
    row = sim.step()
    updates, weights, ids = agg.calls[0]
    assert weights.tolist() == [float(len(sim.clients[c][1])) for c in ids]
    assert torch.allclose(sim.state, before + fedavg(updates, weights), atol=1e-7)
    assert row["clients"] == 3 and 0.0 <= row["main_acc"] <= 1.0 and "asr" not in row


def test_training_learns_the_toy_task():
    sim = Simulation(SPEC, _clients(), _test_set(),
                     _cfg(rounds=30, clients_per_round=6, local=LocalTraining(4, 4, lr=0.2)))
    first = sim.step()["main_acc"]
    rows = sim.run()
    assert rows[-1]["main_acc"] > max(first, 0.6)


def test_same_seed_same_run_and_resume_is_exact():
    a = Simulation(SPEC, _clients(), _test_set(), _cfg())
    a.run(progress=False)
    b = Simulation(SPEC, _clients(), _test_set(), _cfg())
    b.run(2, progress=False)
    c = Simulation(SPEC, _clients(), _test_set(), _cfg())
    c.load_state_dict(b.state_dict())
    c.run(progress=False)
    assert torch.equal(a.state, c.state)
    assert [r["main_acc"] for r in a.history] == [r["main_acc"] for r in c.history]
    other = Simulation(SPEC, _clients(), _test_set(), _cfg(seed=4))
    other.run(progress=False)
    assert not torch.equal(a.state, other.state)


class _Corrupting(LocalBackend):
    def map(self, tasks):
        results = super().map(tasks)
        results[0].update[0] = float("nan")
        return results


def test_nonfinite_update_is_rejected_and_the_round_goes_on(caplog):
    sim = Simulation(SPEC, _clients(), _test_set(), _cfg(), backend=_Corrupting())
    with caplog.at_level("WARNING"):
        row = sim.step()
    assert len(row["rejected_nonfinite"]) == 1
    assert row["rejected_nonfinite"][0] in caplog.text
    assert bool(torch.isfinite(sim.state).all())


def test_scheduled_attackers_join_attack_rounds_only_as_attackers():
    attack = BackdoorAttack(trigger=TRIGGER, target=1, num_attackers=2, rounds="every:2")
    sim = Simulation(SPEC, _clients(), _test_set(), _cfg(), attack=attack,
                     attackers=["c0", "c5"])
    for r in range(4):
        chosen, active = sim.sample(r)
        assert active == (r % 2 == 0)
        if active:
            assert {"c0", "c5"} <= set(chosen)
        row = sim.step()
        assert row["attackers"] == (2 if active else 0)
        assert "asr" in row


def _skewed_clients():
    """Clients holding one class each (class = i % 3): the attacker's data is out of
    distribution for the global model by turns."""
    out = {}
    gen = torch.Generator().manual_seed(2)
    for i in range(9):
        y = torch.full((8,), i % 3, dtype=torch.int64)
        x = torch.rand(8, 1, 8, 8, generator=gen) * 0.1
        x[torch.arange(8), 0, 4, y + 2] = 1.0
        out[f"c{i}"] = (x, y)
    return out


def test_ood_timing_attacks_late_far_rounds_and_resumes_exactly():
    attack = BackdoorAttack(trigger=TRIGGER, target=1, rounds="ood:0.25")
    cfg = _cfg(rounds=8, clients_per_round=3)
    sim = Simulation(SPEC, _skewed_clients(), _test_set(), cfg, attack=attack,
                     attackers=["c0"])
    rows = sim.run(progress=False)
    active = [r["round"] - 1 for r in rows if r["attack_active"]]
    assert len(active) == 2 and min(active) >= 4  # K = 2 rounds, in the last 2K
    dist = [r["ood_distance"] for r in rows]
    assert all(d > 0.0 for d in dist)  # the global model's loss on the attacker's data
    for r in active:  # chosen at or above the earlier rounds' median, or forced at the end
        forced = 8 - r <= 2 - sum(a < r for a in active)
        assert forced or dist[r] > float(np.median(dist[max(0, r - 3):r]))
    for r in rows:
        assert r["attackers"] == (1 if r["attack_active"] else 0)
    half = Simulation(SPEC, _skewed_clients(), _test_set(), cfg, attack=attack,
                      attackers=["c0"])
    half.run(5, progress=False)
    resumed = Simulation(SPEC, _skewed_clients(), _test_set(), cfg, attack=attack,
                         attackers=["c0"])
    resumed.load_state_dict(half.state_dict())
    resumed.run(progress=False)
    assert [r["attack_active"] for r in resumed.history] == [r["attack_active"] for r in rows]
    assert torch.equal(resumed.state, sim.state)


def test_ood_timing_needs_scheduled_join():
    attack = BackdoorAttack(trigger=TRIGGER, rounds="ood:0.5", join="sampled")
    with pytest.raises(InvalidConfigError, match="join='scheduled'"):
        Simulation(SPEC, _clients(), _test_set(), _cfg(), attack=attack, attackers=["c0"])


def _task(poison=None, seed=5):
    x, y = _clients()["c1"]
    torch.manual_seed(0)
    model = SPEC.build_model()
    return ClientTask("c1", SPEC, state_vector(model), x, y, LocalTraining(batch_size=4),
                      seed, poison)


def test_gamma_scales_the_attackers_update_exactly():
    p1 = Poison(TRIGGER, 1, 0.5, 0.5, "last", gamma=1.0)
    p3 = Poison(TRIGGER, 1, 0.5, 0.5, "last", gamma=3.0)
    u1, u3 = run_client(_task(p1)).update, run_client(_task(p3)).update
    assert torch.allclose(u3, 3 * u1)
    honest = run_client(_task())
    assert not honest.malicious and run_client(_task(p1)).malicious
    assert not torch.allclose(honest.update, u1)
    assert torch.equal(run_client(_task()).update, honest.update)  # seeded: repeatable


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"clients": {"a": (torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long))}},
     "client 'a' has no samples"),
    ({"config": FLConfig(clients_per_round=9)}, "clients_per_round=9 exceeds the 6 clients"),
    ({"attackers": ["zz"], "attack": BackdoorAttack()}, r"attackers \['zz'\] are not clients"),
    ({"attackers": ["c0"]}, "no attack"),
    ({"attackers": ["c0", "c1", "c2", "c3"], "attack": BackdoorAttack(num_attackers=4)},
     "4 scheduled attackers cannot fit in 3"),
])
def test_bad_simulation_input(kwargs, match):
    args = {"clients": _clients(), "config": _cfg()}
    args.update(kwargs)
    with pytest.raises(InvalidConfigError, match=match):
        Simulation(SPEC, args.pop("clients"), _test_set(), args.pop("config"), **args)


@pytest.mark.slow
def test_local_and_ray_backends_agree():
    pytest.importorskip("ray")
    attack = BackdoorAttack(trigger=TRIGGER, target=1, num_attackers=1)
    runs = []
    for backend in ("local", "ray"):
        sim = Simulation(SPEC, _clients(), _test_set(), _cfg(rounds=2), attack=attack,
                         attackers=["c2"], backend=backend)
        try:
            sim.run(progress=False)
        finally:
            sim.close()
        runs.append(sim)
    local, ray = runs
    assert torch.allclose(local.state, ray.state, atol=1e-6)
    assert [r["asr"] for r in local.history] == [r["asr"] for r in ray.history]


def test_ray_backend_without_ray_names_the_extra(monkeypatch):
    from carbide.exceptions import MissingDependencyError
    from carbide.federated.backends import make_backend
    from tests.conftest import mask_module

    mask_module(monkeypatch, "ray")
    with pytest.raises(MissingDependencyError, match=r'pip install "carbide\[federated\]"'):
        make_backend("ray")
    with pytest.raises(InvalidConfigError, match="choose one of: local, ray"):
        make_backend("spark")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_all_finite_spots_one_bad_value(bad):
    from carbide.federated import all_finite

    x = torch.full((3, 1000), 3e38)  # huge but finite: a float64 sum does not overflow
    assert all_finite(x)
    x[2, 517] = bad
    assert not all_finite(x)

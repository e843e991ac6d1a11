from __future__ import annotations

import pytest
import torch

from carbide.exceptions import InvalidConfigError
from carbide.federated.models import ModelSpec
from carbide.serverless.runtime import make_engine
from carbide.serverless.store import TensorStore
from carbide.serverless.trainer import Plan, ServerlessTrainer, TrainerConfig

SPEC = ModelSpec("small-cnn", in_channels=1, num_classes=3, image_size=8, hidden=8)


def data(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 3, (n,), generator=g)


def train(url, job, scheme, rounds=2, workers=2, engine="thread", **cfg):
    store = TensorStore(url)
    eng = make_engine(engine, store_url=url, workers=workers + 1, memory_mb=1769)
    try:
        tr = ServerlessTrainer(store, job, SPEC, data(), eng,
                               TrainerConfig(scheme=scheme, batch=8, **cfg), Plan(workers, 1769))
        recs = [tr.step() for _ in range(rounds)]
        return tr.parameters(), recs, tr
    finally:
        eng.close()


def test_schemes_train_to_identical_parameters(redis_url):
    out = {s: train(redis_url, f"tr-{s}", s, shards=3)
           for s in ("hierarchical", "download_all", "parameter_server")}
    p = out["hierarchical"][0]
    assert all(torch.equal(v[0], p) for v in out.values())
    for _, recs, _ in out.values():
        assert [r.round for r in recs] == [0, 1] and all(r.reruns == 0 for r in recs)
        assert all(r.cost > 0 and r.bytes_per_worker > 0 for r in recs)


def test_one_round_equals_minibatch_sgd(redis_url):
    p, _, tr = train(redis_url, "tr-sgd", "hierarchical", rounds=1, shards=5, lr=0.1)
    torch.manual_seed(0)  # the trainer's initial weights follow its seed (0)
    model = SPEC()
    x, y = data()
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0))[:16]
    loss = torch.nn.functional.cross_entropy(model(x[order[:8]]), y[order[:8]]) / 2 + \
        torch.nn.functional.cross_entropy(model(x[order[8:]]), y[order[8:]]) / 2
    loss.backward()
    want = torch.cat([(q - 0.1 * q.grad).reshape(-1) for q in model.parameters()])
    assert torch.allclose(p, want.detach(), atol=1e-6)


def test_resume_continues_from_the_last_committed_round(redis_url):
    ref, _, _ = train(redis_url, "res-ref", "hierarchical", rounds=3)
    _, _, tr = train(redis_url, "res", "hierarchical", rounds=2)
    eng = make_engine("thread", store_url=redis_url, workers=3, memory_mb=1769)
    tr2 = ServerlessTrainer(TensorStore(redis_url), "res", SPEC, data(), eng,
                            TrainerConfig(batch=8), Plan(2, 1769), resume=True)
    assert tr2.resumed and tr2.round == 2
    tr2.step()
    eng.close()
    assert torch.equal(tr2.parameters(), ref)


def test_replan_reshards_parameters(redis_url):
    p, _, tr = train(redis_url, "replan", "hierarchical", rounds=1)
    tr.set_plan(Plan(3, 3538))
    assert tr.shards == 3 and torch.equal(tr.parameters(), p)


def test_bad_plans():
    with pytest.raises(InvalidConfigError, match="workers"):
        Plan(0, 1769)
    with pytest.raises(InvalidConfigError, match="128-10240"):
        Plan(2, 64)
    with pytest.raises(InvalidConfigError, match="scheme"):
        TrainerConfig(scheme="ring")


def test_store_outage_says_what_was_saved():
    from carbide.insitu.server import EmbeddedRedis
    from carbide.serverless.store import StoreUnavailableError

    server = EmbeddedRedis().start()
    store = TensorStore(server.url, retries=2)
    eng = make_engine("thread", store_url=server.url, workers=3, memory_mb=1769)
    try:
        tr = ServerlessTrainer(store, "outage", SPEC, data(), eng, TrainerConfig(batch=8),
                               Plan(2, 1769))
        tr.step()
        server.stop(save=False)
        with pytest.raises(StoreUnavailableError, match="committed through round 1"):
            tr.step()
    finally:
        eng.close()
        server.close()

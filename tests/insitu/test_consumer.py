"""The embedded analysis engine: exactly-once windows over at-least-once delivery, failover."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from carbide.insitu.broker import Broker
from carbide.insitu.consumer import DMDConsumer, read_results
from carbide.insitu.keys import GROUP, results_key, stream_key

FREQ = 0.05  # cycles per step


def _signal(step):
    """20 features carrying a FREQ oscillation (a travelling wave: a complex mode pair)."""
    x = np.linspace(0, 2 * np.pi, 20)
    return np.sin(x - 2 * np.pi * FREQ * step) + 0.3 * np.cos(2 * x)


def _produce(url, n, every=1):
    broker = Broker("w", endpoints=url)
    for k in range(1, n + 1):
        broker.put(k * every, _signal(k * every))
    return broker.finalize()


def test_windows_come_out_in_order_with_the_signal_frequency(redis_server, client):
    _produce(redis_server.url, 30)
    c = DMDConsumer(redis_server.url, "w", [0], window=10, stride=5, rank=3)
    results = c.run(timeout_s=30)
    assert [r.window for r in results] == [0, 1, 2, 3, 4]
    assert [r.steps[0] for r in results] == [1, 6, 11, 16, 21]
    for r in results:
        assert r.dominant_freq == pytest.approx(FREQ, rel=1e-3)
    # everything analysed was acknowledged and deleted; nothing pending
    assert client.xlen(stream_key("w", 0)) == 0
    assert client.xpending(stream_key("w", 0), GROUP)["pending"] == 0
    assert [(r["region"], r["window"]) for r in read_results(redis_server.url, "w")] == [
        (0, k) for k in range(5)]
    c.close()


def test_duplicate_deliveries_are_counted_once(redis_server, client):
    _produce(redis_server.url, 10)
    # at-least-once: replay the first four entries, as a retried pipeline would
    for _, fields in client.xrange(stream_key("w", 0), count=4):
        client.xadd(stream_key("w", 0), fields)
    c = DMDConsumer(redis_server.url, "w", [0], window=5, rank=2)
    results = c.run(timeout_s=30)
    assert [r.steps for r in results] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    assert c.state[0].duplicates == 4
    c.close()


_VICTIM = """
import sys, time
from carbide.insitu.consumer import DMDConsumer
c = DMDConsumer(sys.argv[1], "w", [0], window=10, stride=5, rank=3, name="victim", count=7)
while not c.results:
    c.poll(block_ms=50)
print("published", len(c.results), flush=True)
time.sleep(600)
"""


def test_killed_consumer_loses_no_window(redis_server, client):
    """A consumer dies mid-window holding unacknowledged entries; a second consumer of the
    group claims them and every window is published exactly once."""
    _produce(redis_server.url, 40)
    victim = subprocess.Popen([sys.executable, "-c", _VICTIM, redis_server.url],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert victim.stdout.readline().startswith("published")
        pending = client.xpending(stream_key("w", 0), GROUP)["pending"]
        assert pending > 0  # it holds entries of the next, unfinished window
    finally:
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
    rescuer = DMDConsumer(redis_server.url, "w", [0], window=10, stride=5, rank=3,
                          name="rescuer", claim_idle_ms=0)
    rescuer.run(timeout_s=30)
    assert rescuer.claimed >= pending
    raw = [int(f[b"window"]) for _, f in client.xrange(results_key("w"))]
    assert sorted(raw) == list(range(7))  # 40 snapshots, window 10, hop 5: 7 windows, once each
    assert client.xpending(stream_key("w", 0), GROUP)["pending"] == 0
    rescuer.close()


def test_two_rank_mpi_run_streams_every_step_exactly_once(redis_server, tmp_path):
    from carbide.insitu.simulate import launch_simulation

    flow = {"nx": 40, "ny": 16, "radius": 2, "u_in": 0.1, "reynolds": 20}
    summary = launch_simulation(ranks=2, steps=60, every=5, output="broker", out=tmp_path,
                                flow=flow, field="ux", endpoints=redis_server.url, regions=1)
    assert summary["broker"]["delivered"] == 24 and summary["broker"]["ranks"] == 2
    c = DMDConsumer(redis_server.url, "ux", [0], window=4, rank=2)
    results = c.run(timeout_s=60)  # raises TimeoutError if a step never completes
    steps = [s for r in results for s in r.steps]
    assert steps == list(range(5, 61, 5))  # every output step, once, in order
    assert c.state[0].members == 2 and c.state[0].duplicates == 0
    c.close()

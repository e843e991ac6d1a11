import threading
import time

import numpy as np
import pytest

from carbide.exceptions import DeliveryError, InvalidConfigError
from carbide.insitu.broker import Broker
from carbide.insitu.codec import Snapshot, decode_entry
from carbide.insitu.keys import stream_key


def _entries(client, stream):
    return [decode_entry(f) for _, f in client.xrange(stream)]


def test_puts_arrive_filtered_as_float32_with_an_eos_marker(redis_server, client):
    broker = Broker("ux", endpoints=redis_server.url, stride=2, crop=((0, 4), (0, 6)))
    field = np.arange(40, dtype=np.float64).reshape(5, 8)
    for step in (0, 10, 20):
        broker.put(step, field + step)
    stats = broker.finalize()
    items = _entries(client, stream_key("ux", 0))
    snaps = [i for i in items if isinstance(i, Snapshot)]
    assert [s.step for s in snaps] == [0, 10, 20] and [s.seq for s in snaps] == [0, 1, 2]
    np.testing.assert_array_equal(snaps[1].data, (field + 10)[0:4:2, 0:6:2])
    assert snaps[0].data.dtype == np.float32
    assert items[-1] == {"rank": 0, "localid": 0, "region": 0, "members": 1, "sent": 3}
    assert stats.puts == stats.delivered == 3 and stats.bytes == 3 * 6 * 4
    assert stats.throughput_mb_s > 0 and stats.put_latency_mean_s >= 0


def test_shape_change_within_a_stream_is_an_error(redis_server):
    with Broker("ux", endpoints=redis_server.url) as broker:
        broker.put(0, np.zeros((2, 3)))
        with pytest.raises(InvalidConfigError, match=r"shape \(3, 3\).*\(2, 3\)"):
            broker.put(1, np.zeros((3, 3)))


def test_put_after_finalize_and_bad_config(redis_server):
    broker = Broker("ux", endpoints=redis_server.url)
    broker.finalize()
    with pytest.raises(InvalidConfigError, match="after finalize"):
        broker.put(0, np.zeros(2))
    with pytest.raises(InvalidConfigError, match="queue_size"):
        Broker("ux", endpoints=redis_server.url, queue_size=0)
    with pytest.raises(InvalidConfigError, match="field"):
        Broker("a:b", endpoints=redis_server.url)


def test_maxlen_applies_back_pressure_instead_of_dropping(redis_server, client):
    """With nobody consuming, the producer blocks at the cap; once a consumer deletes entries
    it goes on, and every snapshot arrives."""
    broker = Broker("ux", endpoints=redis_server.url, maxlen=4, queue_size=1, batch=1)
    done = threading.Event()

    def produce():
        for step in range(12):
            broker.put(step, np.full(3, step))
        done.set()

    t = threading.Thread(target=produce)
    t.start()
    time.sleep(0.5)
    assert not done.is_set()  # blocked by back-pressure
    assert client.xlen(stream_key("ux", 0)) <= 5
    got = []
    while not done.is_set() or client.xlen(stream_key("ux", 0)):
        for eid, f in client.xrange(stream_key("ux", 0)):
            got.append(decode_entry(f).step)
            client.xdel(stream_key("ux", 0), eid)
        time.sleep(0.01)
    t.join()
    broker.finalize()
    got += [decode_entry(f).get("sent") for _, f in client.xrange(stream_key("ux", 0))]
    assert got == list(range(12)) + [12]


def test_redis_restart_is_survived_by_retrying(redis_server, client):
    broker = Broker("ux", endpoints=redis_server.url, retry_timeout_s=20, queue_size=64)
    for step in range(5):
        broker.put(step, np.full(4, step))
    time.sleep(0.2)
    redis_server.stop()  # saves; the sender now hits connection errors
    for step in range(5, 10):
        broker.put(step, np.full(4, step))
    time.sleep(0.3)
    redis_server.start()
    stats = broker.finalize()
    steps = [s.step for s in _entries(client, stream_key("ux", 0)) if isinstance(s, Snapshot)]
    assert sorted(set(steps)) == list(range(10))  # at-least-once: nothing lost
    assert stats.retries > 0 and stats.delivered == 10


def test_unreachable_endpoint_fails_loudly_with_the_undelivered_count(redis_server):
    broker = Broker("ux", endpoints=redis_server.url, retry_timeout_s=0.5, queue_size=4,
                    batch=1)
    redis_server.stop(save=False)
    with pytest.raises(DeliveryError) as info:
        for step in range(50):
            broker.put(step, np.zeros(4))
        broker.finalize()
    err = info.value
    assert err.undelivered >= 1 and "not delivered" in str(err)
    with pytest.raises(DeliveryError):
        broker.finalize()

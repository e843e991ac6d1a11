"""``run_insitu``: configuration checked before any server or stream is touched; the consumers
closed and the server stopped on every path."""

import pytest

from carbide.exceptions import InvalidConfigError
from carbide.insitu import consumer, server, simulate
from carbide.insitu.experiment import InsituConfig, run_insitu
from carbide.insitu.keys import stream_key

FLOW = {"nx": 40, "ny": 16, "radius": 2, "u_in": 0.1, "reynolds": 20}


def _cfg(**kw):
    return InsituConfig(ranks=1, regions=1, steps=100, warmup=0, every=5, window=8,
                        window_stride=4, rank=3, flow=FLOW, **kw)


@pytest.fixture
def no_embedded_redis(monkeypatch):
    started = []

    def start(self):
        started.append(self)
        raise AssertionError("the embedded Redis must not start for a bad configuration")

    monkeypatch.setattr(server.EmbeddedRedis, "start", start)
    return started


def test_bad_engine_is_refused_before_redis_starts(tmp_path, no_embedded_redis):
    with pytest.raises(InvalidConfigError, match="defer_analysis needs the local engine"):
        run_insitu(_cfg(engine="spark"), tmp_path, defer_analysis=True)
    cfg = _cfg()
    object.__setattr__(cfg, "engine", "flink")  # built around the dataclass's validation
    with pytest.raises(InvalidConfigError, match="engine must be one of local, spark"):
        run_insitu(cfg, tmp_path)
    assert no_embedded_redis == []


def test_bad_config_leaves_an_existing_stream_alone(tmp_path, redis_server, client):
    key = stream_key("vorticity", 0)
    client.xadd(key, {"keep": "me"})
    with pytest.raises(InvalidConfigError, match="defer_analysis"):
        run_insitu(_cfg(engine="spark", endpoints=redis_server.url), tmp_path,
                   defer_analysis=True)
    assert client.xlen(key) == 1


def test_consumers_are_closed_when_the_simulation_fails(tmp_path, redis_server, monkeypatch):
    closed = []
    close = consumer.DMDConsumer.close

    def spy(self):
        closed.append(self.name)
        close(self)

    def fail(**kwargs):
        raise RuntimeError("simulation failed")

    monkeypatch.setattr(consumer.DMDConsumer, "close", spy)
    monkeypatch.setattr(simulate, "launch_simulation", fail)
    for defer in (False, True):
        closed.clear()
        with pytest.raises(RuntimeError, match="simulation failed"):
            run_insitu(_cfg(endpoints=redis_server.url), tmp_path, defer_analysis=defer)
        assert closed == ["consumer-0"]


def test_embedded_redis_is_stopped_when_the_run_fails(tmp_path, monkeypatch):
    servers = []
    start = server.EmbeddedRedis.start

    def spy(self):
        servers.append(self)
        return start(self)

    def fail(**kwargs):
        raise RuntimeError("simulation failed")

    monkeypatch.setattr(server.EmbeddedRedis, "start", spy)
    monkeypatch.setattr(simulate, "launch_simulation", fail)
    with pytest.raises(RuntimeError, match="simulation failed"):
        run_insitu(_cfg(), tmp_path)
    (srv,) = servers
    assert not srv.running

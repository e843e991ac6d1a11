from __future__ import annotations

import math

import pytest

from carbide.exceptions import InvalidConfigError
from carbide.serverless.cost import (
    TimeModel,
    check_memory,
    compute_cost,
    lambda_cost,
    threads_for_memory,
    vcpus,
    vm_cost,
)


def test_one_gb_for_one_second_costs_the_list_price():
    assert compute_cost(1.0) == pytest.approx(0.0000166667, rel=1e-12)
    assert lambda_cost(1.0, 1024, invocations=0) == pytest.approx(0.0000166667, rel=1e-12)
    # a million 128 MB calls of 1 ms: request fee $0.20 + 1e6 * 0.001 s * 0.125 GB
    assert lambda_cost(1000.0, 128, invocations=1_000_000) == pytest.approx(
        0.20 + 125 * 0.0000166667)
    assert lambda_cost(0.0001, 1024, invocations=0) == pytest.approx(0.001 * 0.0000166667)


def test_memory_range_and_cpu_share():
    assert vcpus(1769) == 1.0 and vcpus(10240) == pytest.approx(10240 / 1769)
    assert vcpus(128) == pytest.approx(128 / 1769)
    assert threads_for_memory(128) == 1 and threads_for_memory(3538) == 2
    for bad in (127, 10241, 0, 512.0, True):
        with pytest.raises(InvalidConfigError, match="128-10240"):
            check_memory(bad)
    assert vm_cost(3600, 0.192) == pytest.approx(0.192)


def _model(**kw):
    base = dict(num_params=1_000_000, samples=50_000, batch=64, invoke_s=0.05, sample_s=0.002,
                bandwidth=5e8, store_bandwidth=2e9)
    return TimeModel(**{**base, **kw})


def test_epoch_model_orders_the_schemes_at_scale():
    tm = _model()
    e = {s: tm.epoch(s, 100, 3008) for s in ("hierarchical", "download_all", "parameter_server")}
    assert e["hierarchical"].seconds < e["parameter_server"].seconds < e["download_all"].seconds
    assert e["hierarchical"].rounds == math.ceil(50_000 / 6400)
    h = e["hierarchical"]
    assert h.cost == pytest.approx(lambda_cost(h.seconds * 100, 3008, h.rounds * 100))
    # more memory buys compute speed (more vCPU) at a higher price per second
    assert tm.epoch("hierarchical", 10, 3538).compute_s == pytest.approx(
        tm.epoch("hierarchical", 10, 1769).compute_s / 2)


def test_calibrate_and_validation():
    tm = TimeModel.calibrate(num_params=10, samples=100, batch=10, invoke_s=0.1,
                             sample_s_at=(0.01, 1769), round_bytes_s=(1e6, 0.01))
    assert tm.bandwidth == pytest.approx(1e8) and tm.sample_s == pytest.approx(0.01)
    with pytest.raises(InvalidConfigError, match="bandwidth"):
        _model(bandwidth=0)

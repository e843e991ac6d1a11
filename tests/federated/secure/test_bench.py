"""citadel bench config: comma-separated option values, named errors."""

from __future__ import annotations

import pytest


def test_bench_config_takes_comma_separated_values_and_names_a_bad_one():
    from carbide.exceptions import InvalidConfigError
    from carbide.federated.secure import BenchConfig

    cfg = BenchConfig(ds="1000,20000", ns="2,4", fan_ins="2")
    assert (cfg.ds, cfg.ns, cfg.fan_ins) == ((1000, 20000), (2, 4), (2,))
    with pytest.raises(InvalidConfigError, match=r"ns takes comma-separated integers.*'2,x'"):
        BenchConfig(ns="2,x")
    with pytest.raises(InvalidConfigError, match="fan_in"):
        BenchConfig(fan_ins="1")


def test_scaling_takes_every_neighbors_setting_and_names_the_degree_used():
    from carbide.federated.secure.bench import scaling

    rows = scaling([2, 8, 16], [2], 64, neighbors="auto")
    assert [r["neighbors"] for r in rows] == [None, 4, 4]  # n=2: the one pair
    assert [r["neighbors"] for r in scaling([8], [2], 64)] == [None]  # all pairs
    assert [r["neighbors"] for r in scaling([6, 8], [2], 64, neighbors=6)] == [None, 6]  # k >= n-1
    assert [r["neighbors"] for r in scaling([16], [2], 64, neighbors=2)] == [2]


def test_throughput_rows_carry_the_enclave_path_figure():
    from carbide.federated.secure.bench import mask_encrypt_throughput

    for scheme in ("admin", "pairwise"):
        r = mask_encrypt_throughput(2000, scheme=scheme, repeats=1)
        assert r["enclave_s"] > 0 and r["enclave_gb_per_s"] == r["bytes"] / r["enclave_s"] / 1e9

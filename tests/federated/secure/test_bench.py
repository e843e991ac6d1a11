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

import math
import re

import pytest

from carbide.insitu.experiment import InsituConfig
from carbide.insitu.repro import FULL_PLAN, QUICK_PLAN, ReproPlan, render, run_repro
from carbide.results import rerender

FLOW = {"nx": 40, "ny": 16, "radius": 2, "u_in": 0.1, "reynolds": 20}


def test_plans_are_sized_for_their_budget():
    assert 0 < QUICK_PLAN.expected_minutes <= 2 < FULL_PLAN.expected_minutes <= 20
    assert FULL_PLAN.spark and QUICK_PLAN.replay and QUICK_PLAN.ranks == (1, 2)


@pytest.mark.slow
@pytest.mark.data
def test_repro_on_a_tiny_plan_writes_the_contract(tmp_path, shared_root):
    plan = ReproPlan(base=InsituConfig(steps=200, warmup=0, every=5, window=10,
                                       window_stride=5, rank=3, flow=FLOW),
                     ranks=(1, 2), reps=1, spark=False, replay=True)
    res = run_repro(tmp_path, quick=True, plan=plan, root=shared_root)
    m = res["metrics"]
    for key in ("slowdown_vs_nowrite", "slowdown_vs_file", "slowdown_live_vs_nowrite"):
        assert 0.2 < m[key] < 5, (key, m[key])  # a ratio of two timings of the same run
    for key in ("raw_redis_mb_s", "broker_mb_s", "throughput_mb_s", "window_hop_s"):
        assert math.isfinite(m[key]) and m[key] > 0, key
    assert 0 <= m["e2e_latency_p50_s"] <= m["e2e_latency_p95_s"] < 60
    assert 0 < m["dominant_freq"] < 0.5 and 0 < m["fft_freq"] < 0.5  # below Nyquist
    assert 0 <= m["replay_dmd_error_mean"] < 0.5 and m["freq_rel_error"] >= 0
    settings = [r["setting"] for r in res["rows"] if r["kind"] == "setting"]
    assert settings == ["lbm 1 rank(s), local engine", "lbm 2 rank(s), local engine",
                        "openfoam replay, 2 ranks"]
    # 40 snapshots, window 10, hop 5 -> 7 windows in each of 2 regions
    local = [r for r in res["rows"] if r["kind"] == "window" and r["source"] == "local"]
    assert sorted((w["region"], w["window"]) for w in local) == [
        (r, k) for r in (0, 1) for k in range(7)]
    for name in ("time_per_step.png", "latency.png", "dmd_frequency.png"):
        assert (tmp_path / name).stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    assert not re.search(r"\b(nan|inf)\b", report, re.I)
    again = rerender(tmp_path, plan_cls=ReproPlan, render=render)
    assert again["metrics"] == m and (tmp_path / "report.md").read_text() == report

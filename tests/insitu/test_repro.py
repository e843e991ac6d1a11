import math
import re

import pytest

from carbide.exceptions import CarbideError
from carbide.insitu.experiment import InsituConfig
from carbide.insitu.repro import (
    FULL_PLAN,
    QUICK_PLAN,
    ReproPlan,
    render,
    run_repro,
    run_stage,
    stage_names,
)
from carbide.results import rerender

FLOW = {"nx": 40, "ny": 16, "radius": 2, "u_in": 0.1, "reynolds": 20}


def test_plans_are_sized_for_their_budget():
    assert 0 < QUICK_PLAN.expected_minutes <= 2 < FULL_PLAN.expected_minutes <= 20
    assert QUICK_PLAN.replay and FULL_PLAN.replay
    # the rank counts, in both plans
    assert FULL_PLAN.ranks == QUICK_PLAN.ranks == (1, 2, 4, 8) and FULL_PLAN.reps >= 2
    assert stage_names(FULL_PLAN) == ["ranks1", "ranks2", "ranks4", "ranks8", "replay"]


def _tiny_plan(**kw):
    fields = {"ranks": (1, 2), "reps": 1, "spark": False, "replay": False, **kw}
    return ReproPlan(base=InsituConfig(steps=200, warmup=0, every=5, window=10,
                                       window_stride=5, rank=3, flow=FLOW), **fields)


def test_a_stage_on_disk_is_reused_not_measured(tmp_path, monkeypatch):
    import json

    from carbide.insitu import repro

    plan = _tiny_plan()
    rows = [{"kind": "setting", "setting": "x", "engine": "local", "ranks": 1}]
    (tmp_path / "ranks1.json").write_text(json.dumps(
        {"stage": "ranks1", "plan": repro._stage_plan(plan), "rows": rows}))

    def boom(*a, **k):
        raise AssertionError("a stage on disk was measured again")

    monkeypatch.setattr(repro, "_measure_stage", boom)
    assert run_stage(plan, "ranks1", stages=tmp_path) == rows
    # the same file under another plan is refused, naming it
    with pytest.raises(CarbideError, match="ranks1.json holds a stage of another plan"):
        run_stage(_tiny_plan(reps=2), "ranks1", stages=tmp_path)
    with pytest.raises(CarbideError, match="unknown stage 'ranks3'"):
        run_stage(plan, "ranks3", stages=tmp_path)


@pytest.mark.slow
@pytest.mark.data
def test_repro_on_a_tiny_plan_writes_the_contract(tmp_path, shared_root):
    plan = ReproPlan(base=InsituConfig(steps=200, warmup=0, every=5, window=10,
                                       window_stride=5, rank=3, flow=FLOW),
                     ranks=(1, 2), reps=1, spark=False, replay=True)
    res = run_repro(tmp_path, quick=True, plan=plan, root=shared_root)
    m = res["metrics"]
    for key in ("slowdown_vs_nowrite", "slowdown_vs_file", "slowdown_vs_file_fsync",
                "slowdown_live_vs_nowrite"):
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
    for name in ("time_per_step.png", "scaling.png", "latency.png", "dmd_frequency.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert sorted(p.name for p in (tmp_path / "stages").iterdir()) == [
        "ranks1.json", "ranks2.json", "replay.json"]
    assert set(m["slowdown_vs_file_fsync_by_ranks"]) == {"1", "2"}
    report = (tmp_path / "report.md").read_text()
    assert not re.search(r"\b(nan|inf)\b", report, re.I)
    again = rerender(tmp_path, plan_cls=ReproPlan, render=render)
    assert again["metrics"] == m and (tmp_path / "report.md").read_text() == report

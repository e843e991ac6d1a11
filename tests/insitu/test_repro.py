import pytest

from carbide.insitu.experiment import InsituConfig
from carbide.insitu.repro import ReproPlan, run_repro

FLOW = {"nx": 40, "ny": 16, "radius": 2, "u_in": 0.1, "reynolds": 20}


@pytest.mark.slow
@pytest.mark.data
def test_repro_on_a_tiny_plan_writes_the_contract(tmp_path, shared_root, monkeypatch):
    monkeypatch.setenv("CARBIDE_DATA", str(shared_root))
    plan = ReproPlan(base=InsituConfig(steps=200, warmup=0, every=5, window=10,
                                       window_stride=5, rank=3, flow=FLOW),
                     ranks=(1, 2), reps=1, spark=False, replay=True)
    res = run_repro(tmp_path, quick=True, plan=plan)
    m = res["metrics"]
    for key in ("slowdown_vs_nowrite", "slowdown_vs_file", "raw_redis_mb_s", "strouhal_dmd",
                "replay_dmd_error_mean", "e2e_latency_p95_s"):
        assert key in m
    assert [r["setting"] for r in res["rows"]] == [
        "lbm 1 rank(s), local engine", "lbm 2 rank(s), local engine", "openfoam replay, 2 ranks"]
    for name in ("report.md", "results.json", "time_per_step.png", "latency.png",
                 "dmd_frequency.png"):
        assert (tmp_path / name).exists()


@pytest.mark.slow
def test_spark_engine_runs_dmd_in_foreach_batch(tmp_path):
    """Spark Structured Streaming reads the region streams through carbide's Python data
    source and publishes the same windows the embedded engine would."""
    from carbide.insitu.experiment import run_insitu

    cfg = InsituConfig(ranks=2, regions=2, steps=100, warmup=0, every=5, window=8,
                       window_stride=4, rank=3, flow=FLOW, engine="spark", trigger_s=1.0)
    res = run_insitu(cfg, tmp_path, timeout_s=300)
    assert res["metrics"]["windows"] == 8
    assert sorted({(w["region"], w["window"]) for w in res["windows"]}) == [
        (r, k) for r in (0, 1) for k in range(4)]
    assert res["batches"] and all(b["processing_s"] > 0 for b in res["batches"])

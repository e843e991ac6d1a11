import json

import pytest

from carbide.federated.experiment import BackdoorRunConfig
from carbide.federated.repro import ReproPlan, _jobs, run_repro

_BASE = BackdoorRunConfig(clients=10, per_round=5, rounds=2, attackers=1, train_subset=300,
                          test_subset=100, batch_size=16)
TINY = ReproPlan(
    base=_BASE, his=(0.0, 1.0), seeds=(0, 1), high_hi=1.0,
    timings=(("all", "spread", 1.0), ("late:0.5", "last", 2.0)), timing_his=(1.0,),
    defense_his=(0.0, 1.0), defenses=("foolsgold", "krum:1"), defense_seeds=(0,),
    attack_datas=("own", "classes:1,2"),
    femnist=BackdoorRunConfig(dataset="femnist", partition="writers", clients=5, per_round=5,
                              rounds=2, attackers=1),
)


def test_plan_jobs_cover_every_study_and_share_identical_runs():
    jobs = _jobs(TINY)
    studies = {s for s, _ in jobs}
    assert studies == {"hi", "hi-benign", "timing", "defense", "attack-data", "femnist"}
    # the timing baseline (all rounds, spread) at HI 1.0 is the same run as the HI sweep's
    configs = [c for _, c in jobs]
    assert len(set(configs)) < len(configs)
    benign = [c for s, c in jobs if s == "hi-benign"]
    assert benign and all(c.attackers == 0 for c in benign)


@pytest.mark.slow
@pytest.mark.data
def test_repro_on_a_tiny_plan_writes_every_study(tmp_path, shared_root):
    res = run_repro(tmp_path, plan=TINY, root=shared_root, workers=1)
    studies = {r["study"] for r in res["rows"]}
    assert studies == {"hi", "hi-benign", "timing", "defense", "attack-data", "femnist"}
    m = res["metrics"]
    for key in ("asr_hi_low", "asr_hi_high", "asr_timing_baseline", "asr_timing_best",
                "foolsgold_benign_rejected", "femnist_hi_measured"):
        assert key in m
    assert 0.0 <= m["femnist_hi_measured"] <= 1.0
    for png in ("asr_vs_hi.png", "asr_over_rounds_timing.png"):
        assert (tmp_path / png).stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    for section in ("ASR and accuracy against HI", "Timing", "Defenses", "Attack data",
                    "FEMNIST"):
        assert section in report
    json.dumps(res)

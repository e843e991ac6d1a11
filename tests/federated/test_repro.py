import dataclasses
import json
import math

import pytest

from carbide.federated.experiment import BackdoorRunConfig
from carbide.federated.repro import ReproPlan, _jobs, _shift_seeds, render, run_repro
from carbide.results import rerender

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
    res = run_repro(tmp_path, plan=TINY, root=shared_root)
    studies = {r["study"] for r in res["rows"]}
    assert studies == {"hi", "hi-benign", "timing", "defense", "attack-data", "femnist"}
    m = res["metrics"]
    for key in ("asr_hi_low", "asr_hi_high", "asr_timing_baseline", "asr_timing_best",
                "main_acc_hi_low", "main_acc_hi_high"):
        assert 0.0 <= m[key] <= 1.0, key
    for key in ("asr_sd_hi_low", "asr_sd_hi_high"):  # two seeds: a sample std exists
        assert math.isfinite(m[key]) and 0.0 <= m[key] <= 1.0, key
    assert m["timing_best"].count("/") == 2
    assert set(m["foolsgold_benign_rejected"]) == {"hi:0.0", "hi:1.0"}
    assert all(0.0 <= v <= 1.0 for v in m["foolsgold_benign_rejected"].values())
    assert 0.0 <= m["femnist_hi_measured"] <= 1.0
    for png in ("asr_vs_hi.png", "asr_over_rounds_timing.png"):
        assert (tmp_path / png).stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    for section in ("ASR and accuracy against HI", "Timing", "Defenses", "Attack data",
                    "FEMNIST"):
        assert section in report
    assert "Custom mode" in report and "nan" not in report
    assert rerender(tmp_path, plan_cls=ReproPlan, render=render)["metrics"] == m
    json.dumps(res)


def test_seed_shifts_every_seed_of_the_plan():
    shifted = {c.seed for _, c in _jobs(_shift_seeds(TINY, 10))}
    assert shifted == {10, 11}


def test_one_seed_studies_render_as_not_measured_not_as_a_verdict():
    row = {"dataset": "fashion-mnist", "attackers": 1, "attack_rounds": "all",
           "placement": "spread", "gamma": 1.0, "attack_data": "own", "defense": "none",
           "seed": 0, "asr": 0.5, "asr_mean_last5": 0.5, "main_acc": 0.8, "hi_measured": 0.1,
           "benign_rejected_rate": 0.0, "attackers_rejected_rate": None,
           "asr_curve": [0.5, 0.5], "acc_curve": [0.8, 0.8]}
    plan = dataclasses.replace(TINY, seeds=(0,), femnist=None, defenses=("foolsgold",))
    rows = [{**row, "study": "hi", "partition": "hi:0.0"},
            {**row, "study": "hi", "partition": "hi:1.0", "asr_mean_last5": 0.2},
            {**row, "study": "timing", "partition": "hi:1.0"},
            {**row, "study": "defense", "partition": "hi:0.0", "defense": "foolsgold"}]
    metrics, report = render(rows, plan)
    assert math.isnan(metrics["asr_sd_hi_low"])  # one seed: no spread, not a zero spread
    text = report.render()
    assert "not measured (asr_sd_hi_low, asr_sd_hi_high missing)" in text
    assert "not measured (asr_hi_low" not in text

import dataclasses
import json
import math

import pytest

from carbide.exceptions import CarbideError
from carbide.federated import repro
from carbide.federated.experiment import BackdoorRunConfig
from carbide.federated.repro import ReproPlan, _jobs, _shift_seeds, render
from carbide.results import rerender

_BASE = BackdoorRunConfig(clients=10, per_round=5, rounds=4, attackers=1, train_subset=300,
                          test_subset=100, batch_size=16)
TINY = ReproPlan(
    base=_BASE, timings=(("all", "spread", 1.0), ("early:0.25", "spread", 4.0),
                         ("late:0.25", "spread", 4.0), ("ood:0.25", "spread", 4.0)),
    timing_his=(0.0, 1.0), timing_seeds=(0, 1), high_hi=1.0, sybils=(1, 2),
    sybil_his=(0.0, 1.0), defenses=("none", "foolsgold", "krum:1"), sybil_seeds=(0,),
    attack_datas=("own", "classes:1,2"), attack_data_seeds=(0,), benign_seeds=(0,),
    cifar10=dataclasses.replace(_BASE, dataset="cifar10", rounds=2), cifar10_his=(1.0,),
    cifar10_seeds=(0,),
    femnist=BackdoorRunConfig(dataset="femnist", partition="writers", clients=5, per_round=5,
                              rounds=2, attackers=1, test_subset=200),
    femnist_seeds=(0,),
)
STUDIES = {"timing", "sybil", "benign", "attack-data", "cifar10", "femnist"}


def test_plan_jobs_cover_every_study_and_share_identical_runs():
    jobs = _jobs(TINY)
    assert {s for s, _ in jobs} == STUDIES
    # the attack-data "own" run at high HI is the timing study's every-round run
    configs = [c for _, c in jobs]
    assert len(set(configs)) < len(configs)
    benign = [c for s, c in jobs if s == "benign"]
    assert benign and all(c.attackers == 0 for c in benign)
    sybils = {c.attackers for s, c in jobs if s == "sybil"}
    assert sybils == {0, 1, 2}
    # priority: the high-HI timing study comes first
    assert jobs[0][0] == "timing" and jobs[0][1].partition == "hi:1.0"


def test_full_plan_has_eight_seeds_three_timings_and_sybils():
    from carbide.federated.repro import FULL_PLAN

    assert len(FULL_PLAN.timing_seeds) >= 8 and len(FULL_PLAN.timing_his) >= 2
    kinds = {t[0].partition(":")[0] for t in FULL_PLAN.timings}
    assert {"early", "late", "ood"} <= kinds
    assert set(FULL_PLAN.sybils) == {1, 2, 5} and "foolsgold" in FULL_PLAN.defenses
    assert FULL_PLAN.cifar10 is not None and FULL_PLAN.cifar10.dataset == "cifar10"


def _fake_result(cfg):
    asr = 0.1 + 0.2 * cfg.seed + (0.3 if cfg.attack_rounds.startswith("late") else 0.0)
    return {"asr": asr, "asr_mean_last5": asr, "main_acc": 0.7, "rounds": cfg.rounds,
            "round_time_s": 0.1, "asr_max": asr, "hi_measured": 0.5,
            "benign_rejected_rate": 0.1, "attackers_rejected_rate": 0.5 if cfg.attackers else None,
            "asr_curve": [asr] * cfg.rounds, "acc_curve": [0.7] * cfg.rounds,
            "attack_rounds_used": [cfg.rounds], "ood_distance": None, "attacker_ids": [],
            "seconds": 1.0, "loadavg": 1.0}


def test_stages_are_written_reused_and_a_budget_leaves_cells_not_measured(tmp_path,
                                                                          monkeypatch):
    calls = []

    def fake(cfg, root=None):
        calls.append(cfg)
        return _fake_result(cfg)

    monkeypatch.setattr(repro, "_run_one", fake)
    plan = dataclasses.replace(TINY, cifar10=None, femnist=None, attack_datas=(),
                               benign_seeds=(), sybil_his=(1.0,))
    rows = repro.run_plan(plan, workers=1, stage_dir=tmp_path, max_seconds=0.0)
    assert rows == [] and calls == []  # no time: nothing runs
    rows = repro.run_plan(plan, workers=1, stage_dir=tmp_path)
    n = len(calls)
    assert n == len({c for _, c in _jobs(plan)}) and len(list(tmp_path.glob("*.json"))) == n
    again = repro.run_plan(plan, workers=1, stage_dir=tmp_path)
    assert len(calls) == n and again == rows  # every stage read back, none rerun
    # a partial study: drop the stages of seed 1 -> those cells are not measured
    for p in tmp_path.glob("*_s1_*.json"):
        p.unlink()
    partial = repro.run_plan(plan, workers=1, stage_dir=tmp_path, max_seconds=0.0)
    metrics, report = render(partial, plan)
    text = report.render()
    assert "n = 1/2, no interval" in text and "not measured" in text
    assert metrics["stages_done"] < metrics["stages_planned"]
    # the paired gain: late is +0.3 on every seed, so its interval is a point above 0
    metrics, report = render(rows, plan)
    assert metrics["timing_best"] == "fixed-late"
    assert metrics["timing_gain_ci"] == pytest.approx([0.3, 0.3])
    assert "| adjusting the timing" in report.render()


def test_a_stage_with_another_config_is_refused(tmp_path):
    cfg = TINY.base
    path = tmp_path / repro.stage_name(cfg)
    repro._write_stage(path, dataclasses.replace(cfg, seed=9), _fake_result(cfg))
    with pytest.raises(CarbideError, match="another config"):
        repro._read_stage(path, cfg)


@pytest.mark.slow
@pytest.mark.data
def test_repro_on_a_tiny_plan_writes_every_study(tmp_path, shared_root):
    # TINY with fewer sybil cells (one sybil count, two defenses): every study still runs
    plan = dataclasses.replace(TINY, sybils=(2,), defenses=("none", "foolsgold"))
    res = repro.run_stages(tmp_path, plan=plan, root=shared_root, workers=1)
    assert {r["study"] for r in res["rows"]} == STUDIES
    m = res["metrics"]
    for key in ("asr_hi_low", "asr_hi_high", "asr_timing_baseline", "asr_timing_best"):
        assert 0.0 <= m[key] <= 1.0, key
    for key in ("asr_sd_hi_low", "asr_sd_hi_high"):  # two seeds: a sample std exists
        assert math.isfinite(m[key]) and 0.0 <= m[key] <= 1.0, key
    assert m["timing_best"] in ("fixed-late", "ood-selected")
    assert m["stages_done"] == m["stages_planned"]
    assert set(m["foolsgold_benign_rejected"]) == {"hi:0.0", "hi:1.0"}
    ood = [r for r in res["rows"] if r["attack_rounds"].startswith("ood")]
    assert ood and all(len(r["attack_rounds_used"]) == 1 for r in ood)  # K = round(4 / 4)
    for png in ("asr_vs_hi.png", "asr_over_rounds_timing.png"):
        assert (tmp_path / png).stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    for section in ("Timing study", "Sybils", "CIFAR-10", "FEMNIST", "Attack data"):
        assert section in report
    assert "Custom mode" in report and "nan" not in report
    assert len(list((tmp_path / "stages").glob("*.json"))) == m["stages_done"]
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
    plan = dataclasses.replace(TINY, timing_seeds=(0,), femnist=None, cifar10=None)
    rows = [{**row, "study": "timing", "partition": "hi:0.0"},
            {**row, "study": "timing", "partition": "hi:1.0", "asr_mean_last5": 0.2},
            {**row, "study": "sybil", "partition": "hi:0.0", "defense": "foolsgold"}]
    metrics, report = render(rows, plan)
    assert math.isnan(metrics["asr_sd_hi_low"])  # one seed: no spread, not a zero spread
    text = report.render()
    assert "not measured (asr_sd_hi_low, asr_sd_hi_high missing)" in text
    assert "not measured (asr_hi_low" not in text
    assert "CIFAR-10: not measured" in text


def test_cifar10_text_says_when_the_main_task_was_not_learned():
    cfg = TINY.cifar10
    chance = [{"study": "cifar10", "main_acc": a} for a in (0.1, 0.12)]
    learned = [{"study": "cifar10", "main_acc": a} for a in (0.41, 0.45, math.nan)]
    assert "has not learned the main task" in repro._cifar_learned(chance, cfg)
    assert "0.110" in repro._cifar_learned(chance, cfg)
    text = repro._cifar_learned(learned + [{"study": "timing", "main_acc": 0.1}], cfg)
    assert "partly trained" in text and "0.430" in text and "2 runs" in text
    assert "not measured" in repro._cifar_learned([], cfg)

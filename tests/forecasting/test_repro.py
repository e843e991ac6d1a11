"""The reproduction on a reduced quick plan over the real PV data."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import pytest

pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("sklearn")

from carbide.forecasting._figures import stretches_table  # noqa: E402
from carbide.forecasting.repro import FULL_PLAN, QUICK_PLAN  # noqa: E402
from carbide.forecasting.train import TrainConfig  # noqa: E402

TINY = dataclasses.replace(
    QUICK_PLAN, ages=(1, 6, 12, 18, 24), windows=(6,), compare_ages=(1, 12, 24),
    compare_window=6, mmse_ages=(1, 6, 12, 18, 24), markov_ages=(1, 12), markov_repeats=3,
    train=TrainConfig(model="mlp", epochs=4, patience=2, max_train=3000), ar1_n=3000,
    compare_train=TrainConfig(model="lstm", epochs=3, patience=2, max_train=1000),
    joint_max_train=3000, mmse_max_samples=3000, seeds=2)


def test_plans_cover_the_issue():
    assert FULL_PLAN.ages == (1, *range(3, 49, 3)) and {6, 12} <= set(FULL_PLAN.windows)
    assert FULL_PLAN.train.model == "lstm" and FULL_PLAN.train.lr == 1e-3
    assert set(QUICK_PLAN.windows) == {6, 12, 24} and {12, 24} <= set(QUICK_PLAN.ages)
    assert 0 < QUICK_PLAN.expected_minutes <= 2 < FULL_PLAN.expected_minutes <= 20
    assert dict(QUICK_PLAN.hetero_offsets)  # heterogeneous ages differ per feature
    assert FULL_PLAN.seeds >= 5 and QUICK_PLAN.seeds >= 2
    # the comparison reuses the sweep's per-age models: its ages and window are swept
    assert FULL_PLAN.compare_train is None and FULL_PLAN.compare_window in FULL_PLAN.windows
    assert set(FULL_PLAN.compare_ages) <= set(FULL_PLAN.ages)


def test_a_stage_on_disk_is_reused_and_another_plans_is_refused(tmp_path, monkeypatch):
    from carbide.exceptions import CarbideError
    from carbide.forecasting import repro

    rows = [{"study": "ar1", "age": 1, "true_mmse": 0.19, "mmse_estimate": 0.2}]
    (tmp_path / "seed3.json").write_text(json.dumps(
        {"seed": 3, "plan": repro._stage_plan(TINY), "rows": rows}))

    def boom(*a, **k):
        raise AssertionError("a stage on disk was measured again")

    monkeypatch.setattr(repro, "_run_seed", boom)
    got = repro.run_plan(dataclasses.replace(TINY, seeds=1), seed=3, stages=tmp_path)
    assert got == [{**rows[0], "seed": 3}]
    # the seed count is not part of a stage's plan; the training recipe is
    assert repro.run_stage(dataclasses.replace(TINY, seeds=7), seed=3, stages=tmp_path) == rows
    with pytest.raises(CarbideError, match="seed3.json holds the stage of another plan"):
        repro.run_stage(dataclasses.replace(TINY, markov_repeats=4), seed=3, stages=tmp_path)


def test_seed_summaries_of_a_claim_figure():
    from carbide.forecasting.repro import _fall_per_seed, _fmt, _summary

    def rows(v12, v24):
        return {"single": [{"window": 6, "age": 12, "train_mse": v12},
                           {"window": 6, "age": 24, "train_mse": v24}]}

    stretch = {"window": 6, "curve": "train_mse", "peak_age": 12, "trough_age": 24}
    falls = _fall_per_seed([rows(0.6, 0.3), rows(0.5, 0.3), rows(0.7, 0.3)], "single", stretch)
    assert falls == pytest.approx([0.3, 0.2, 0.4])
    sm = _summary(falls)
    assert sm.n == 3 and sm.mean == pytest.approx(0.3) and sm.std == pytest.approx(0.1)
    assert sm.ci95_low == pytest.approx(0.3 - 4.303 * 0.1 / 3 ** 0.5)
    assert "0.300 ± 0.100" in _fmt(sm) and "3 seeds" in _fmt(sm)
    assert _fmt(None) == "not measured"


def test_stretches_table_per_window_and_curve():
    rows = [{"window": 6, "age": a, "train_mse": v, "test_mse": v, "mmse_estimate": None}
            for a, v in ((1, 0.1), (12, 0.6), (24, 0.3), (36, 0.6))]
    st = stretches_table(rows)
    assert [(s["curve"], s["peak_age"], s["trough_age"]) for s in st] == [
        ("train_mse", 12, 24), ("test_mse", 12, 24)]


@pytest.mark.slow
@pytest.mark.data
def test_repro_on_a_reduced_plan_writes_every_study(tmp_path, shared_root):
    from carbide.forecasting.repro import ReproPlan, render, run_repro
    from carbide.results import rerender

    res = run_repro(tmp_path, plan=TINY, root=shared_root)
    studies = {r["study"] for r in res["rows"]}
    assert studies >= {"single", "hetero", "mmse_u1", "markov", "ar1", "compare"}
    m = res["metrics"]
    for key in ("per_age_test_mse", "joint_test_mse", "joint_age_input_test_mse",
                "per_age_train_mse", "ar1_max_abs_error"):
        assert math.isfinite(m[key]) and 0 <= m[key] < 2, (key, m[key])
    assert m["parameters"]["per_age_total"] > m["parameters"]["joint"] > 0
    assert all(math.isfinite(g) and abs(g) < 1 for g in m["markov_gap"].values())
    assert m["falls_single"] >= 0 and isinstance(m["largest_fall_test"], str)
    # the daily period on real PV data: the 12-h-old value says less than the 24-h-old one
    u1 = {r["age"]: r["mmse_estimate"] for r in res["rows"] if r["study"] == "mmse_u1"}
    assert u1[12] > u1[24] + 0.1
    assert m["ar1_max_abs_error"] < 0.06
    for png in ("loss_vs_age_single.png", "loss_vs_age_hetero.png", "compare.png",
                "mmse_vs_age.png"):
        assert (tmp_path / png).stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    assert "Where and why the curve is non-monotone" in report and "holds here" in report
    # two seeds, each a stage; every claim figure summarized over them
    assert m["seeds"] == [0, 1] and {r["seed"] for r in res["rows"]} == {0, 1}
    assert sorted(p.name for p in (tmp_path / "stages").iterdir()) == ["seed0.json",
                                                                      "seed1.json"]
    assert m["over_seeds"]["age_input_gain"]["n"] == 2 and "(95 % CI" in report
    assert not re.search(r"\b(nan|inf)\b", report, re.I)
    json.dumps(res)
    # the report is a pure function of the rows: re-rendering reproduces it exactly
    again = rerender(tmp_path, plan_cls=ReproPlan, render=render)
    assert again["metrics"] == res["metrics"]
    assert (tmp_path / "report.md").read_text() == report


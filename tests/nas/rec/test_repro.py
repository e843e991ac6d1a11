from __future__ import annotations

import dataclasses
import json

import pytest

from carbide.nas.rec import repro


@pytest.mark.slow
def test_tiny_repro_writes_the_contract(tmp_path):
    plan = dataclasses.replace(
        repro.QUICK_PLAN, rows=3000, seeds=(0, 1), baselines=("lr", "fm"), epochs=1,
        supernet_epochs=1, budget=2, population=2, sample_size=1, dense_dims=(8,),
        sparse_dims=(2,), finetune_steps=2, finetune_rows=256, val_rows=200, corr_subnets=3,
        corr_rows=2000)
    result = repro.run_repro(tmp_path, plan=plan)
    m = result["metrics"]
    assert {"test_logloss", "best_baseline_test_logloss", "baseline_lr_test_logloss",
            "nasrec_small_test_logloss_std", "kendall_ft_bal", "spearman_noft_nobal"} <= set(m)
    text = (tmp_path / "report.md").read_text()
    assert "0.4399" in text and "Rank correlation" in text
    assert (tmp_path / "search_curve.png").is_file()
    # render is pure: the same rows give the same metrics
    data = json.loads((tmp_path / "results.json").read_text())
    again, _ = repro.render(data["rows"], plan)
    assert again["test_logloss"] == pytest.approx(m["test_logloss"])

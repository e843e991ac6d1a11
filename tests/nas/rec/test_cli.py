from __future__ import annotations

import json

from click.testing import CliRunner

from carbide.nas.rec.cli import nasrec

from .conftest import make_frame


def test_search_then_train_on_a_csv(tmp_path):
    csv = tmp_path / "t.csv"
    make_frame(200).drop(columns=["genres"]).to_csv(csv, index=False)
    out = tmp_path / "run"
    runner = CliRunner()
    res = runner.invoke(nasrec, ["search", "--data", f"csv:{csv}", "--label", "click",
                                 "--space", "small", "--budget", "3", "--population", "2",
                                 "--baselines", "lr", "--batch-size", "64", "--max-table-size", "6",
                                 "--out", str(out)])
    assert res.exit_code == 0, res.output
    best = json.loads((out / "best_arch.json").read_text())
    assert len(best["arch"]["blocks"]) == 7 and best["space"]["name"] == "small"
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["max_table_size"] == 6
    metrics = results["metrics"]
    assert {"test_logloss", "test_auc", "baseline_lr_test_logloss"} <= set(metrics)
    res = runner.invoke(nasrec, ["train", str(out / "best_arch.json"), "--data", f"csv:{csv}",
                                 "--label", "click", "--batch-size", "64",
                                 "--out", str(tmp_path / "train")])
    assert res.exit_code == 0, res.output
    assert "test logloss" in res.output


def test_bad_architecture_file_fails_cleanly(tmp_path):
    csv = tmp_path / "t.csv"
    make_frame(60).drop(columns=["genres"]).to_csv(csv, index=False)
    bad = tmp_path / "arch.json"
    bad.write_text(json.dumps({"arch": {"blocks": [{"dense_op": "conv"}]}}))
    res = CliRunner().invoke(nasrec, ["train", str(bad), "--data", f"csv:{csv}", "--label",
                                      "click", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "block 1: missing field" in str(res.exception)

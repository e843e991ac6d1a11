import json
import subprocess
import sys

import pytest

from carbide.compression.lowrank.repro import ReproPlan, _claim_check, run_repro
from carbide.results import read_results

TINY = ReproPlan(model="smallcnn", dataset="fashion-mnist", epochs=(1, 1, 1),
                 energies=(0.05, 0.3), strengths=(("hoyer", 0.05), ("l1", 0.01), ("none", 0.0)),
                 train_subset=300, batch_size=50, latency_batch=4, latency_time=0.02)


def _cli(*args, data=None):
    import os

    env = dict(os.environ)
    if data is not None:
        env["CARBIDE_DATA"] = str(data)
    return subprocess.run([sys.executable, "-m", "carbide.cli", "svdtrain", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def test_claim_check_compares_at_the_none_runs_best_accuracy():
    rows = [
        {"method": "svd-none", "test_acc": 0.90, "flops_reduction": 1.0, "setting": "a"},
        {"method": "svd-none", "test_acc": 0.85, "flops_reduction": 1.5, "setting": "b"},
        {"method": "svd-hoyer", "test_acc": 0.897, "flops_reduction": 2.0, "setting": "c"},
        {"method": "svd-hoyer", "test_acc": 0.80, "flops_reduction": 5.0, "setting": "d"},
    ]
    check = _claim_check(rows)
    assert check["holds"] and check["hoyer_setting"] == "c"
    rows[2]["test_acc"] = 0.89  # 1 point below: no Hoyer point within 0.5 pt
    assert not _claim_check(rows)["holds"]


@pytest.mark.parametrize(("args", "match"), [
    (["--energy", "1.5"], r"energy must be a number in \(0.0, 1.0\), got 1.5"),
    (["--strength", "-0.1"], "strength must be a number in"),
    (["--epochs", "1,x,1"], r"--epochs takes comma-separated integers \(orth-only"),
    (["--epochs", "1,1"], "three counts"),
])
def test_train_bad_input_is_one_clear_line(tmp_path, args, match):
    import re

    run = _cli("train", *args, "--out", str(tmp_path / "o"))
    assert run.returncode == 1
    assert re.search(match, run.stderr), run.stderr
    assert run.stderr.startswith("carbide: error:")
    assert not (tmp_path / "o" / "results.json").exists()


def test_unknown_mode_is_a_usage_error(tmp_path):
    run = _cli("train", "--mode", "rows", "--out", str(tmp_path))
    assert run.returncode == 2 and "channel" in run.stderr


@pytest.mark.slow
@pytest.mark.data
def test_train_command_writes_the_results_contract(tmp_path, shared_root):
    out = tmp_path / "run"
    run = _cli("train", "--epochs", "1,1,1", "--train-subset", "300", "--batch-size", "50",
               "--energy", "0.2", "--save-model", "--out", str(out), data=shared_root)
    assert run.returncode == 0, run.stderr
    res = read_results(out)
    for key in ("test_acc", "flops_reduction", "params_reduction", "latency_speedup", "ranks"):
        assert key in res["metrics"]
    assert 0.3 < res["metrics"]["test_acc"] <= 1.0
    assert res["metrics"]["flops_reduction"] > 1.0
    assert (out / "model.pt2").is_file() and "Ranks" in (out / "report.md").read_text()


@pytest.mark.slow
@pytest.mark.data
def test_repro_on_a_tiny_plan_writes_every_method(tmp_path, shared_root):
    res = run_repro(tmp_path, quick=True, root=shared_root, plan=TINY)
    methods = {r["method"] for r in res["rows"]}
    assert methods == {"svd-hoyer", "svd-l1", "svd-none", "dense", "truncated-svd",
                       "filter-l1"}
    # baselines are matched to the Hoyer points' FLOPs (or reported unreachable)
    hoyer = {r["setting"]: r for r in res["rows"] if r["method"] == "svd-hoyer"}
    for r in res["rows"]:
        if r["method"] in ("truncated-svd", "filter-l1") and r["setting"] != "unreachable":
            assert r["flops_reduction"] >= hoyer[r["matched_to"]]["flops_reduction"] - 1e-9
    assert isinstance(res["metrics"]["hoyer_vs_none_holds"], bool)
    for png in ("accuracy_vs_flops.png", "ranks.png"):
        assert (tmp_path / png).stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    assert "about 2.2x" in report and "filter-l1" in report
    json.dumps(res)

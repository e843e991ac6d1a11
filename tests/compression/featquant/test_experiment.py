"""BiFeat end to end on Cora: quantized store -> sampled GraphSAGE -> accuracy, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from carbide.compression.featquant.experiment import RunConfig, run_node_classification
from carbide.exceptions import InvalidConfigError


def test_cora_trains_from_one_bit_features(shared_root):
    row = run_node_classification(
        RunConfig(dataset="cora", method="sq", bits=1, epochs=8, seed=0), shared_root,
        progress=False)
    assert row["compression_ratio"] > 30
    assert row["feature_bytes"] * row["compression_ratio"] == pytest.approx(row["fp32_bytes"])
    assert row["test_acc"] > 0.7  # chance is ~0.3 on Cora


def test_vq_and_fp32_runs_report_their_settings(shared_root):
    vq = run_node_classification(
        RunConfig(dataset="cora", method="vq", width=64, codebook=16, epochs=2, seed=1),
        shared_root, progress=False)
    assert vq["setting"] == "VQ(64,16)" and vq["codebook"] == 16 and vq["bits"] is None
    fp = run_node_classification(
        RunConfig(dataset="cora", method="none", epochs=2, drop_edges=0.5), shared_root,
        progress=False)
    assert fp["setting"] == "fp32" and fp["compression_ratio"] == 1.0
    assert 0.4 * 10556 < fp["num_edges"] < 0.6 * 10556  # half the undirected edges dropped


@pytest.mark.parametrize("kw,match", [({"dataset": "pubmed"}, "choose one of cora, citeseer"),
                                      ({"method": "pq"}, "choose one of none, sq, vq"),
                                      ({"drop_edges": 1.0}, r"\[0, 1\)")])
def test_bad_run_configs(kw, match):
    with pytest.raises(InvalidConfigError, match=match):
        RunConfig(**kw)


def test_cli_train_writes_the_results_contract(shared_root, tmp_path):
    env = dict(os.environ, CARBIDE_DATA=str(shared_root))
    run = subprocess.run(
        [sys.executable, "-m", "carbide.cli", "bifeat", "train", "--dataset", "cora",
         "--method", "sq", "--bits", "2", "--epochs", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads((tmp_path / "results.json").read_text())
    assert set(result["metrics"]) == {"test_acc", "val_acc", "compression_ratio",
                                      "feature_bytes", "epoch_time_s"}
    assert result["config"]["bits"] == 2 and result["system"] == "bifeat"
    bad = subprocess.run(
        [sys.executable, "-m", "carbide.cli", "bifeat", "train", "--method", "sq", "--bits", "3",
         "--out", str(tmp_path / "bad")], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 1
    assert "unsupported SQ bit width 3; choose one of (1, 2, 4, 8, 16)" in bad.stderr
    assert not (tmp_path / "bad" / "results.json").exists()


@pytest.mark.slow
def test_quick_reproduction_meets_the_headline(shared_root, tmp_path, monkeypatch):
    from carbide.compression.featquant.repro import run_repro

    monkeypatch.setenv("CARBIDE_DATA", str(shared_root))
    result = run_repro(tmp_path, quick=True)
    m = result["metrics"]
    assert m["cora_best_30x_ratio"] >= 30
    assert m["cora_best_30x_loss_pts"] <= 1.5  # the bar: within 1.5 points of fp32
    assert {p.name for p in tmp_path.iterdir()} >= {"results.json", "report.md",
                                                    "accuracy_vs_ratio.png",
                                                    "loss_vs_density.png"}


def test_benchmarks_run_at_toy_size():
    from carbide.compression.featquant.bench import epoch_benchmark, gather_benchmark

    rows = gather_benchmark(3000, 32, 200, repeats=1)
    assert [r["setting"] for r in rows] == ["fp32", "SQ1", "SQ2", "VQ(16,256)", "VQ(16,2048)"]
    assert rows[0]["speedup"] == 1.0 and rows[1]["compression_ratio"] > 20
    epochs = epoch_benchmark(3000, 16, epochs=1, train_fraction=0.1,
                             settings=(("fp32", None), ("SQ2", {"method": "sq", "bits": 2})))
    assert [e["setting"] for e in epochs] == ["fp32", "SQ2"]
    assert epochs[1]["compression_ratio"] > 10 and epochs[0]["epoch_s"] > 0

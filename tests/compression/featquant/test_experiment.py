"""BiFeat end to end on Cora: quantized store -> sampled GraphSAGE -> accuracy, and the CLI."""

from __future__ import annotations

import json
import math

import pytest

from carbide.compression.featquant.experiment import (
    NodeClassificationConfig,
    run_node_classification,
)
from carbide.compression.featquant.repro import ReproPlan, render, run_repro
from carbide.exceptions import InvalidConfigError
from carbide.results import rerender


def test_cora_trains_from_one_bit_features(shared_root):
    row = run_node_classification(
        NodeClassificationConfig(dataset="cora", method="sq", bits=1, epochs=8, seed=0),
        shared_root, progress=False)
    assert row["compression_ratio"] > 30
    assert row["feature_bytes"] * row["compression_ratio"] == pytest.approx(row["fp32_bytes"])
    assert row["test_acc"] > 0.7  # chance is ~0.3 on Cora


def test_vq_and_fp32_runs_report_their_settings(shared_root):
    vq = run_node_classification(
        NodeClassificationConfig(dataset="cora", method="vq", width=64, codebook=16, epochs=2,
                                 seed=1), shared_root, progress=False)
    assert vq["setting"] == "VQ(64,16)" and vq["codebook"] == 16 and vq["bits"] is None
    fp = run_node_classification(
        NodeClassificationConfig(dataset="cora", method="none", epochs=2, drop_edges=0.5),
        shared_root, progress=False)
    assert fp["setting"] == "fp32" and fp["compression_ratio"] == 1.0
    assert 0.4 * 10556 < fp["num_edges"] < 0.6 * 10556  # half the undirected edges dropped


@pytest.mark.parametrize("kw,match", [({"dataset": "pubmed"}, "choose one of cora, citeseer"),
                                      ({"method": "pq"}, "choose one of none, sq, vq"),
                                      ({"drop_edges": 1.0}, r"\[0, 1\)")])
def test_bad_run_configs(kw, match):
    with pytest.raises(InvalidConfigError, match=match):
        NodeClassificationConfig(**kw)


def test_cli_train_writes_the_results_contract(carbide_cli, shared_root, tmp_path):
    run = carbide_cli("bifeat", "train", "--dataset", "cora", "--method", "sq", "--bits", "2",
                      "--epochs", "2", "--out", tmp_path, data=shared_root)
    assert run.returncode == 0, run.stderr
    result = json.loads((tmp_path / "results.json").read_text())
    assert set(result["metrics"]) == {"test_acc", "val_acc", "compression_ratio",
                                      "feature_bytes", "epoch_time_s"}
    assert result["config"]["bits"] == 2 and result["system"] == "bifeat"
    bad = carbide_cli("bifeat", "train", "--method", "sq", "--bits", "3", "--out",
                      tmp_path / "bad", data=shared_root)
    assert bad.returncode == 1
    assert "unsupported SQ bit width 3; choose one of (1, 2, 4, 8, 16)" in bad.stderr
    assert not (tmp_path / "bad" / "results.json").exists()


TINY = ReproPlan(datasets=("cora",), settings=({"method": "none"}, {"method": "sq", "bits": 1}),
                 density=(0.0, 0.5),
                 density_settings=({"method": "none"}, {"method": "sq", "bits": 2}),
                 seeds=2, epochs=2)


@pytest.mark.slow
def test_repro_on_a_tiny_plan_reports_finite_figures(shared_root, tmp_path):
    result = run_repro(tmp_path, plan=TINY, root=shared_root)
    m = result["metrics"]
    assert m["runs"] == 12 and len(result["rows"]) == 12  # 2 x 2 accuracy + 2 x 2 x 2 density
    assert m["cora_best_30x_setting"] == "SQ1" and 30 <= m["cora_best_30x_ratio"] <= 40
    assert 0.3 < m["cora_fp32_test_acc"] <= 1.0 and 0.3 < m["cora_best_30x_test_acc"] <= 1.0
    assert math.isfinite(m["cora_best_30x_loss_pts"]) and abs(m["cora_best_30x_loss_pts"]) < 30
    (growth,) = m["density_loss_growth_pts"].values()
    assert math.isfinite(growth) and abs(growth) < 30
    assert m["citeseer_fp32_test_acc"] is None  # not in the plan: None, never a made-up figure
    assert {p.name for p in tmp_path.iterdir()} >= {"results.json", "report.md",
                                                    "accuracy_vs_ratio.png",
                                                    "loss_vs_density.png"}
    assert result["config"]["plan"]["seeds"] == 2
    # the report re-renders from its rows alone, to the same metrics
    assert rerender(tmp_path, plan_cls=ReproPlan, render=render)["metrics"] == m


def _benchmark(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_run_at_toy_size():
    from carbide.compression.featquant._kernel import numba_available

    res = _benchmark("bifeat_gather").gather_benchmark(3000, 32, 200, rounds=1, repeats=1,
                                                       threads=(1,), log=lambda s: None)
    rows = res["rows"]
    paths = ["numba", "torch"] if numba_available() else ["torch"]
    assert [(r["setting"], r["path"]) for r in rows] == [("fp32", "index_select")] + [
        (s, p) for s in ("SQ1", "SQ2", "VQ(16,256)", "VQ(16,2048)") for p in paths]
    assert rows[0]["speedup"] == 1.0 and rows[1]["compression_ratio"] > 20
    epochs = _benchmark("bifeat_epoch").epoch_benchmark(
        3000, 16, epochs=1, train_fraction=0.1,
        settings=(("fp32", None), ("SQ2", {"method": "sq", "bits": 2})))
    assert [e["setting"] for e in epochs] == ["fp32", "SQ2"]
    assert epochs[1]["compression_ratio"] > 10 and epochs[0]["epoch_s"] > 0


@pytest.mark.slow
def test_vq_fit_benchmark_runs_at_toy_size(capsys):
    fit = _benchmark("bifeat_vq_fit").vq_fit_benchmark(1000, 16, 8, 16, kmeans=("torch",))
    assert [r["kmeans"] for r in fit["rows"]] == ["torch"] and fit["sample_rows"] == 1000
    assert 0 < fit["rows"][0]["rel_error"] < 1 and "torch" in capsys.readouterr().out


@pytest.mark.slow
def test_memmap_benchmark_runs_at_toy_size(tmp_path):
    res = _benchmark("bifeat_memmap").memmap_benchmark(
        3000, 16, budget_mb=0.05, train_nodes=512, epochs=1, workdir=str(tmp_path),
        citeseer=False, log=lambda s: None)
    rows = res["synthetic"]
    assert [r["setting"] for r in rows] == ["fp32 memmap (budget)", "SQ1 in RAM",
                                            "VQ(16,256) in RAM",
                                            "fp32 in RAM (reference, over budget)"]
    # fp32 read from the file and fp32 in RAM train the same model, bit for bit
    assert rows[0]["test_acc"] == rows[3]["test_acc"] and rows[0]["speedup"] == 1.0
    assert rows[1]["ratio"] > 10 and not list(tmp_path.glob("*.npy"))

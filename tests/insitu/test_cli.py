"""``carbide elasticbroker`` as a user runs it (a subprocess), on tiny flows."""

import json

import pytest

from carbide.testing import run_cli as carbide

TINY = ("--nx", "40", "--ny", "16", "--radius", "2", "--reynolds", "20", "--ranks", "2",
        "--steps", "100", "--warmup", "0", "--every", "5", "--window", "8",
        "--window-stride", "4", "--rank", "3")


def test_run_writes_windows_and_named_metrics(tmp_path):
    run = carbide("elasticbroker", "run", *TINY, "--out", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    m = res["metrics"]
    for key in ("throughput_mb_s", "e2e_latency_p50_s", "e2e_latency_p95_s", "dominant_freq",
                "fft_freq"):
        assert key in m
    # 20 snapshots, window 8, hop 4 -> 4 windows per region, 2 regions
    assert m["windows"] == 8 and len(res["rows"]) == 8
    assert {r["region"] for r in res["rows"]} == {0, 1}


def test_bench_reports_the_issue_metrics(tmp_path):
    run = carbide("elasticbroker", "bench", *TINY, "--reps", "1", "--out", str(tmp_path / "b"))
    assert run.returncode == 0, run.stderr
    m = json.loads((tmp_path / "b" / "results.json").read_text())["metrics"]
    for key in ("slowdown_vs_nowrite", "slowdown_vs_file", "slowdown_vs_file_fsync",
                "mlups_none", "throughput_mb_s", "raw_redis_mb_s",
                "e2e_latency_p50_s", "e2e_latency_p95_s", "dominant_freq", "fft_freq"):
        assert key in m and m[key] == m[key]  # present and not NaN
    assert m["raw_redis_mb_s"] > 0 and m["slowdown_vs_nowrite"] > 0


@pytest.mark.parametrize("args, message", [
    (("--window", "50"), "window=50 snapshots is longer than the data"),
    (("--regions", "3"), "regions=3"),
    (("--rank", "8"), "DMD rank 8 must be below the window length 8"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    run = carbide("elasticbroker", "run", *TINY, *args, "--out", str(tmp_path / "x"))
    assert run.returncode != 0
    assert message in run.stderr and "Traceback" not in run.stderr


def test_endpoint_file_with_fewer_lines_than_ranks(tmp_path):
    f = tmp_path / "endpoints.txt"
    f.write_text("redis://127.0.0.1:1\n")
    run = carbide("elasticbroker", "run", *TINY, "--endpoints", str(f), "--out",
                  str(tmp_path / "x"))
    assert run.returncode != 0
    assert "has 1 endpoint(s) but there are 2 ranks" in run.stderr


@pytest.mark.data
def test_replay_streams_the_openfoam_snapshots(tmp_path, shared_root):
    run = carbide("elasticbroker", "replay", "--ranks", "2", "--regions", "2", "--out",
                  str(tmp_path / "r"), data=str(shared_root))
    assert run.returncode == 0, run.stderr
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    # 20 snapshots, window 10, hop 5 -> 3 windows in each of 2 regions
    assert res["metrics"]["windows"] == 6
    assert all(0 <= r["error"] < 0.5 for r in res["rows"])


def test_unknown_stage_names_the_plans_stages(tmp_path):
    run = carbide("elasticbroker", "stage", "ranks3", "--out", str(tmp_path / "x"))
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "unknown stage 'ranks3'" in run.stderr and "ranks8" in run.stderr

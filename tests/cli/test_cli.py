"""The console script, run as a user runs it (a subprocess), on real and missing data."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def carbide(*args: str, data: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if data is not None:
        env["CARBIDE_DATA"] = data
    return subprocess.run([sys.executable, "-m", "carbide.cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def test_help_lists_the_commands():
    run = carbide("--help")
    assert run.returncode == 0
    for name in ("info", "data", "repro"):
        assert f"  {name} " in run.stdout


def test_verify_with_a_missing_root_is_one_clear_line():
    run = carbide("data", "verify", data="/nonexistent")
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("carbide: error:")
    assert "/nonexistent" in lines[0] and "Traceback" not in run.stderr


def test_verify_names_the_missing_file_of_a_partial_root(tmp_path):
    (tmp_path / "planetoid" / "Cora" / "raw").mkdir(parents=True)
    run = carbide("data", "verify", "cora", data=str(tmp_path))
    assert run.returncode == 1
    assert f"missing {tmp_path}/planetoid/Cora/raw/ind.cora.allx" in run.stderr


def test_unknown_dataset_lists_the_choices():
    run = carbide("data", "path", "coraa", data="/nonexistent")
    assert run.returncode == 1
    assert "unknown dataset 'coraa'" in run.stderr and "citeseer" in run.stderr


def test_usage_errors_exit_2():
    run = carbide("repro", "all")  # --out missing
    assert run.returncode == 2 and "--out" in run.stderr


def test_verify_and_info_report_every_shared_dataset_ok(shared_root):
    run = carbide("data", "verify", data=str(shared_root))
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.strip().splitlines()) == 10
    assert all(line.rstrip().endswith("ok") for line in run.stdout.strip().splitlines())
    info = carbide("info", "--json", data=str(shared_root))
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert {d["status"] for d in facts["datasets"].values()} == {"ok"}
    assert facts["data_root"] == str(shared_root)
    assert set(facts["extras"]) == {"graph", "nas", "federated", "insitu", "spark", "forecast",
                                    "secure"}


def test_data_path_prints_the_folder(shared_root):
    run = carbide("data", "path", "femnist", data=str(shared_root))
    assert run.returncode == 0
    assert run.stdout.strip() == str(shared_root / "femnist")


def test_repro_all_quick_writes_an_honest_index(tmp_path):
    # planned systems only: the built ones' reproductions have their own (slow) tests
    run = carbide("repro", "all", "--quick", "--only", "nasrec", "--out",
                  str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    index = json.loads((tmp_path / "out" / "results.json").read_text())
    assert index["command"].startswith("carbide repro all --quick")
    statuses = {r["system"]: r["status"] for r in index["rows"]}
    assert statuses == {"nasrec": "planned"}
    assert (tmp_path / "out" / "report.md").is_file()


def test_repro_list_shows_status():
    run = carbide("repro", "list")
    assert run.returncode == 0 and len(run.stdout.strip().splitlines()) == 10


@pytest.mark.parametrize("bad_seed", ["-1", "x"])
def test_repro_rejects_bad_seed(tmp_path, bad_seed):
    run = carbide("repro", "all", "--out", str(tmp_path), "--seed", bad_seed)
    assert run.returncode == 2

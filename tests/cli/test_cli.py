"""The console script, run as a user runs it (a subprocess), on real and missing data."""

from __future__ import annotations

import json

import pytest


def test_help_lists_the_commands(carbide_cli):
    run = carbide_cli("--help")
    assert run.returncode == 0
    for name in ("info", "data", "repro"):
        assert f"  {name} " in run.stdout


def test_verify_with_a_missing_root_is_one_clear_line(carbide_cli):
    run = carbide_cli("data", "verify", data="/nonexistent")
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("carbide: error:")
    assert "/nonexistent" in lines[0] and "Traceback" not in run.stderr


def test_verify_names_the_missing_file_of_a_partial_root(carbide_cli, tmp_path):
    (tmp_path / "planetoid" / "Cora" / "raw").mkdir(parents=True)
    run = carbide_cli("data", "verify", "cora", data=str(tmp_path))
    assert run.returncode == 1
    assert f"missing {tmp_path}/planetoid/Cora/raw/ind.cora.allx" in run.stderr


def test_unknown_dataset_lists_the_choices(carbide_cli):
    run = carbide_cli("data", "path", "coraa", data="/nonexistent")
    assert run.returncode == 1
    assert "unknown dataset 'coraa'" in run.stderr and "citeseer" in run.stderr


def test_usage_errors_exit_2(carbide_cli):
    run = carbide_cli("repro", "all")  # --out missing
    assert run.returncode == 2 and "--out" in run.stderr


def test_verify_and_info_report_every_shared_dataset_ok(carbide_cli, shared_root):
    run = carbide_cli("data", "verify", data=str(shared_root))
    assert run.returncode == 0, run.stderr
    from carbide.datasets import DATASETS

    assert len(run.stdout.strip().splitlines()) == len(DATASETS) == 11
    assert all(line.rstrip().endswith("ok") for line in run.stdout.strip().splitlines())
    info = carbide_cli("info", "--json", data=str(shared_root))
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert {d["status"] for d in facts["datasets"].values()} == {"ok"}
    assert facts["data_root"] == str(shared_root)
    from carbide._imports import EXTRAS

    assert set(facts["extras"]) == set(EXTRAS)


def test_data_path_prints_the_folder(carbide_cli, shared_root):
    run = carbide_cli("data", "path", "femnist", data=str(shared_root))
    assert run.returncode == 0
    assert run.stdout.strip() == str(shared_root / "femnist")


def test_repro_all_quick_writes_an_honest_index(monkeypatch, tmp_path):
    # a planned system is listed, never run or faked (every real system is built by now, so
    # one is added for the test; the built ones' reproductions have their own tests)
    from click.testing import CliRunner

    from carbide import systems
    from carbide.cli import cli

    planned = systems.SystemInfo("future", "Future", "arXiv 0000.00000", "carbide.future",
                                 "not built yet")
    monkeypatch.setitem(systems.SYSTEMS, "future", planned)
    args = ["repro", "all", "--quick", "--only", "future", "--out", str(tmp_path / "out")]
    monkeypatch.setattr("sys.argv", ["carbide", *args])  # what the index records as command
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 0, run.output
    index = json.loads((tmp_path / "out" / "results.json").read_text())
    assert index["command"].startswith("carbide repro all --quick")
    statuses = {r["system"]: r["status"] for r in index["rows"]}
    assert statuses == {"future": "planned"}
    assert (tmp_path / "out" / "report.md").is_file()
    assert not (tmp_path / "out" / "future").exists()


def test_repro_list_shows_status(carbide_cli):
    run = carbide_cli("repro", "list")
    assert run.returncode == 0 and len(run.stdout.strip().splitlines()) == 10


@pytest.mark.parametrize("bad_seed", ["-1", "x"])
def test_repro_rejects_bad_seed(carbide_cli, tmp_path, bad_seed):
    run = carbide_cli("repro", "all", "--out", str(tmp_path), "--seed", bad_seed)
    assert run.returncode == 2

"""A tiny reproduction plan end to end; the CLI; the public API and lean import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from carbide.federated.secure.experiment import CitadelRunConfig
from carbide.federated.secure.repro import ReproPlan, run_repro

TINY = ReproPlan(
    accuracy=(CitadelRunConfig(dataset="fashion-mnist", enclaves=2, fan_in=2, masks="admin",
                               rounds=2, backend="inprocess", hidden=16, train_subset=200,
                               test_subset=100),),
    breakdown_n=3, breakdown_hidden=16, scaling_ns=(2, 3), fan_ins=(2,), scaling_d=500,
    ds=(1000,), leakage_rounds=2, leakage_n=3, leakage_d=1000, idlg_images=3,
    expected_minutes=0.2, flower_json=None)


@pytest.mark.slow  # about 25 s: a FEMNIST round of the LEAF CNN and the iDLG images
def test_tiny_repro_writes_the_contract(tmp_path, shared_root):
    res = run_repro(tmp_path / "r", plan=TINY, root=shared_root)
    m = res["metrics"]
    assert m["max_abs_diff_vs_plain"] < 1e-4
    assert m["runs"] == 1 and m["runs_within_rounding"] == 1
    assert 0 <= m["perturbed_plain_diff_max"] < 1e-3
    assert m["test_acc"] == pytest.approx(m["plain_test_acc"], abs=0.01)
    # a ratio of wall-clock times: present and finite, never asserted on its size
    assert 0 < m["pairwise_over_plain"] < float("inf") and m["idlg_unmasked_acc"] == 1.0
    text = (tmp_path / "r" / "report.md").read_text()
    assert "simulated" in text and "1.73" in text and "not measured" in text.lower()
    assert (tmp_path / "r" / "scaling.png").exists()
    kinds = {r["kind"] for r in json.loads((tmp_path / "r" / "results.json").read_text())["rows"]}
    assert kinds == {"accuracy", "breakdown", "scaling", "throughput", "leakage", "idlg"}


def test_cli_run_inprocess_and_bad_input(tmp_path, shared_root):
    from carbide.federated.secure.cli import citadel

    runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(citadel, ["run", "--enclaves", "2", "--rounds", "1", "--backend",
                                  "inprocess", "--hidden", "16", "--dataset", "fashion-mnist",
                                  "--train-subset", "200", "--test-subset", "100",
                                  "--root", str(shared_root),
                                  "--out", str(out)])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "results.json").read_text())["metrics"]
    assert {"test_acc", "plain_test_acc", "max_abs_diff_vs_plain", "round_time_s",
            "plain_round_time_s"} <= set(m)
    bad = runner.invoke(citadel, ["run", "--fan-in", "1", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "fan_in" in str(bad.exception)


def test_config_errors():
    from carbide.exceptions import InvalidConfigError

    with pytest.raises(InvalidConfigError, match="enclaves"):
        CitadelRunConfig(enclaves=1)
    with pytest.raises(InvalidConfigError, match="masks"):
        CitadelRunConfig(masks="shamir")
    with pytest.raises(InvalidConfigError, match="dataset"):
        CitadelRunConfig(dataset="cifar10")


def test_public_api_resolves_and_import_is_lean():
    import carbide.federated.secure as secure

    for name in secure.__all__:
        assert getattr(secure, name) is not None
    probe = ("import carbide.federated.secure, sys; print(sorted(m for m in sys.modules if "
             "m.split('.')[0] in ('torch', 'numpy', 'cryptography', 'ray')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_flower_figure_is_read_from_its_file_and_named_as_a_separate_run(tmp_path):
    import dataclasses

    from carbide.federated.secure.repro import _flower_rows, render

    fig = {"command": "benchmarks/citadel_flower_secaggplus.py --clients 3", "date": "D",
           "loadavg_start": ["1", "1", "1"], "num_shares": 3, "reconstruction_threshold": 2,
           "clients": 3, "d": 1000, "secaggplus_round_s": [2.5], "plain_round_s": [1.0]}
    path = tmp_path / "f.json"
    path.write_text(json.dumps(fig))
    plan = dataclasses.replace(TINY, flower_json=str(path))
    rows = _flower_rows(plan, None, 0)
    assert [r["method"] for r in rows] == ["flower-secaggplus", "citadel-admin",
                                           "citadel-pairwise"]
    assert rows[0]["round_s"] == 2.5 and "--clients 3" in rows[0]["source"]
    metrics, report = render(rows, plan)
    assert metrics["flower_secaggplus_round_s"] == 2.5
    assert "separate benchmark run" in report.render()
    assert _flower_rows(dataclasses.replace(TINY, flower_json=str(tmp_path / "none")),
                        None, 0) == []

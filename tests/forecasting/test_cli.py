"""``carbide aoi`` through the console script's entry point (in-process, to keep the suite fast;
exit status and the one-line error are what a user sees) on a tiny CSV."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("torch")
pytest.importorskip("sklearn")


@pytest.fixture
def _aoi(capsys):
    from carbide.cli import main

    def run(*args):
        with pytest.raises(SystemExit) as exc:
            main(["aoi", *args])
        cap = capsys.readouterr()
        return SimpleNamespace(returncode=exc.value.code, stdout=cap.out, stderr=cap.err)

    return run


@pytest.fixture
def csv(tmp_path):
    n = 24 * 20
    rng = np.random.default_rng(0)
    t = np.arange(n)
    df = pd.DataFrame({
        "stamp": pd.date_range("2022-06-01", periods=n, freq="h").astype(str),
        "power": np.maximum(0, np.sin(2 * np.pi * t / 24)) + 0.1 * rng.normal(size=n),
        "temp": np.cos(2 * np.pi * t / 24),
    })
    df.loc[30, "power"] = np.nan
    path = tmp_path / "pv.csv"
    df.to_csv(path, index=False)
    return path


FAST = ["--model", "mlp", "--epochs", "2", "--batch-size", "64"]


def test_sweep_on_a_csv_writes_rows_per_age(tmp_path, csv, _aoi):
    out = tmp_path / "sweep"
    run = _aoi("sweep", "--dataset", str(csv), "--time-column", "stamp", "--target", "power",
               "--features", "power,temp", "--offsets", "temp=2", "--ages", "1,6:12:6",
               "--window", "2,4", *FAST, "--out", str(out))
    assert run.returncode == 0, run.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["system"] == "aoi" and res["config"]["offsets"] == {"temp": 2}
    assert [(r["window"], r["age"]) for r in res["rows"]] == [
        (2, 1), (2, 6), (2, 12), (4, 1), (4, 6), (4, 12)]
    for r in res["rows"]:
        for key in ("train_mse", "test_mse", "mmse_estimate"):
            assert isinstance(r[key], float) and r[key] >= 0
        assert r["dropped"] >= 1  # the NaN power hour
    assert "non_monotone" in res["metrics"]
    assert (out / "loss_vs_age.png").stat().st_size > 1000
    assert "mmse_estimate" in (out / "report.md").read_text()


def test_compare_on_a_csv_writes_the_three_metrics(tmp_path, csv, _aoi):
    out = tmp_path / "cmp"
    run = _aoi("compare", "--dataset", str(csv), "--time-column", "stamp", "--target", "power",
               "--features", "power", "--ages", "1,12", "--window", "3", *FAST,
               "--out", str(out))
    assert run.returncode == 0, run.stderr
    m = json.loads((out / "results.json").read_text())["metrics"]
    for key in ("per_age_test_mse", "joint_test_mse", "joint_age_input_test_mse"):
        assert isinstance(m[key], float)
    assert "joint+age" in run.stdout


@pytest.mark.parametrize(("args", "match"), [
    (["--features", "power,cloud"], r"unknown column\(s\) \['cloud'\]; available columns"),
    (["--ages", "1:x"], "--ages takes integers"),
    (["--window", "2,a"], "--window takes integers"),
    (["--ages", "500"], "age 500 of feature 'power' plus window 1 needs 501 rows"),
    (["--offsets", "temp"], "--offsets takes FEATURE=STEPS"),
    (["--time-column", "when"], "no time column 'when'"),
])
def test_bad_input_is_one_clear_line(tmp_path, csv, _aoi, args, match):
    import re

    base = {"--time-column": "stamp", "--target": "power", "--features": "power",
            "--window": "1", "--ages": "1"}
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    flat = [x for kv in base.items() for x in kv]
    run = _aoi("sweep", "--dataset", str(csv), *flat, *FAST, "--out", str(tmp_path / "o"))
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("carbide: error:") and len(run.stderr.strip().splitlines()) == 1
    assert re.search(match, run.stderr), run.stderr
    assert not (tmp_path / "o" / "results.json").exists()


def test_unknown_dataset_names_the_choices(tmp_path, _aoi):
    run = _aoi("sweep", "--dataset", "pv-nowhere", "--out", str(tmp_path))
    assert run.returncode == 1 and "pv-system50, serf-east" in run.stderr

import dataclasses
import json

import pytest

from carbide.compression.lowrank.repro import ReproPlan, _claim_check, render, run_repro
from carbide.results import read_results, rerender

TINY = ReproPlan(model="smallcnn", dataset="fashion-mnist", epochs=(1, 1, 1),
                 energies=(0.05, 0.3), strengths=(("hoyer", 0.05), ("l1", 0.01), ("none", 0.0)),
                 train_subset=300, test_subset=500, batch_size=50, latency_batch=4,
                 latency_time=0.02)




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
    (["--epochs", "1,x,1"], r"epochs takes comma-separated integers \(orth-only"),
    (["--epochs", "1,1"], "three counts"),
    (["--one-cycle"], "one_cycle=True shares one learning-rate cycle"),
])
def test_train_bad_input_is_one_clear_line(carbide_cli, tmp_path, args, match):
    import re

    run = carbide_cli("svdtrain", "train", *args, "--out", str(tmp_path / "o"))
    assert run.returncode == 1
    assert re.search(match, run.stderr), run.stderr
    assert run.stderr.startswith("carbide: error:")
    assert not (tmp_path / "o" / "results.json").exists()


def test_unknown_mode_is_a_usage_error(carbide_cli, tmp_path):
    run = carbide_cli("svdtrain", "train", "--mode", "rows", "--out", str(tmp_path))
    assert run.returncode == 2 and "channel" in run.stderr


@pytest.mark.slow
@pytest.mark.data
def test_train_command_writes_the_results_contract(carbide_cli, tmp_path, shared_root):
    out = tmp_path / "run"
    run = carbide_cli("svdtrain", "train", "--epochs", "1,1,1", "--train-subset", "300",
                      "--batch-size", "50", "--energy", "0.2", "--save-model", "--out", out,
                      data=shared_root)
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
                       "filter-l1", "original"}
    # baselines are matched to the Hoyer points' FLOPs (or reported unreachable)
    hoyer = {r["setting"]: r for r in res["rows"] if r["method"] == "svd-hoyer"}
    for r in res["rows"]:
        if r["method"] in ("truncated-svd", "filter-l1") and r["setting"] != "unreachable":
            assert r["flops_reduction"] >= hoyer[r["matched_to"]]["flops_reduction"] - 1e-9
    m = res["metrics"]
    assert isinstance(m["hoyer_vs_none_holds"], bool)
    assert 0.3 < m["reference_acc"] <= 1.0  # chance is 0.1
    assert 1.0 <= m["none_flops_reduction"] < 50 and m["duration_train_s"] > 0
    for method in ("svd_hoyer", "svd_l1", "svd_none", "truncated_svd", "filter_l1"):
        x, acc = m[f"{method}_flops_reduction_at_ref"], m[f"{method}_acc_at_ref"]
        assert (x is None) == (acc is None)  # no point within 0.5 pt: both None, never NaN
        if x is not None:
            assert 1.0 <= x < 50 and m["reference_acc"] - 0.005 <= acc <= 1.0
    original = res["rows"][-1]
    assert original["method"] == "original" and original["latency_ms"] > 0
    for png in ("accuracy_vs_flops.png", "ranks.png"):
        assert (tmp_path / png).stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    assert "about 2.2x" in report and "filter-l1" in report and "nan" not in report
    assert rerender(tmp_path, plan_cls=ReproPlan, render=render)["metrics"] == m
    json.dumps(res)


def _svd_row(method, energy, acc, flops, latency=None):
    """One SVD row as run_plan writes it (one layer ``a`` of full rank 2)."""
    return {"method": method, "setting": f"E={energy:g}", "test_acc": acc,
            "flops_reduction": flops, "latency_speedup": latency, "energy": energy,
            "ranks": {"a": 1 if flops > 1 else 2}, "full_ranks": {"a": 2}}


def _dense_row(acc):
    return {"method": "dense", "setting": "unpruned", "test_acc": acc, "flops_reduction": 1.0,
            "flops": 2e6}


def test_render_says_not_measured_when_a_baseline_has_no_point():
    rows = [
        _svd_row("svd-hoyer", 0.1, 0.90, 2.0, latency=1.5),
        _svd_row("svd-none", 0.1, 0.90, 1.0),
        _dense_row(0.90),
        {"method": "truncated-svd", "setting": "E=0.3", "test_acc": 0.80,
         "flops_reduction": 2.0, "matched_to": "E=0.1"},
        {"method": "filter-l1", "setting": "unreachable", "test_acc": None,
         "flops_reduction": None, "matched_to": "E=0.1"},
    ]
    metrics, report = render(rows, TINY)
    text = report.render()
    assert metrics["truncated_svd_flops_reduction_at_ref"] is None
    assert "not measured (truncated_svd_flops_reduction missing)" in text
    assert "not measured (filter_l1_flops_reduction missing)" in text
    assert "nan" not in text


def test_render_without_a_hoyer_point_at_the_reference_says_no_and_compares_at_its_flops():
    rows = [
        _svd_row("svd-hoyer", 0.1, 0.86, 2.0, latency=1.1),
        _svd_row("svd-hoyer", 0.2, 0.80, 3.0, latency=1.2),
        _svd_row("svd-none", 0.1, 0.88, 1.0),
        _dense_row(0.88),
        {"method": "truncated-svd", "setting": "E=0.3", "test_acc": 0.84,
         "flops_reduction": 2.0, "matched_to": "E=0.1"},
        {"method": "filter-l1", "setting": "f=0.5", "test_acc": 0.87,
         "flops_reduction": 2.0, "matched_to": "E=0.1"},
    ]
    text = render(rows, dataclasses.replace(TINY, model="resnet20"))[1].render()
    claims = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()
              if line.startswith("| ")}
    head = claims["FLOPs reduction at baseline accuracy (ResNet-20, CIFAR-10, channel-wise Hoyer)"]
    assert "best Hoyer 86.00% at x2.00, 2.00 pt under" in head and "| no |" in head
    svd = claims["more accurate than post-hoc truncated SVD at the same FLOPs"]
    assert "86.00% vs truncated-svd 84.00% at x2.00" in svd and "| yes |" in svd
    assert "| no |" in claims["more accurate than L1 filter pruning at the same FLOPs"]


def test_checkpoint_folder_is_bound_to_the_shared_plan_fields(tmp_path):
    import dataclasses

    from carbide.compression.lowrank.repro import FULL_PLAN, _checkpoint_dir
    from carbide.exceptions import InvalidConfigError

    _checkpoint_dir(tmp_path, FULL_PLAN, 0)
    # energies and strengths name their own checkpoints: changing them reuses the folder
    _checkpoint_dir(tmp_path, dataclasses.replace(FULL_PLAN, energies=(0.3,)), 0)
    for other, seed in ((dataclasses.replace(FULL_PLAN, lr=0.2), 0), (FULL_PLAN, 1)):
        with pytest.raises(InvalidConfigError, match="another plan or seed"):
            _checkpoint_dir(tmp_path, other, seed)


@pytest.mark.slow
def test_parts_trained_apart_are_what_the_whole_run_reads(tmp_path, shared_root):
    import dataclasses

    from carbide.compression.lowrank.repro import run_plan
    from carbide.exceptions import InvalidConfigError

    plan = dataclasses.replace(TINY, energies=(0.3,), strengths=(("hoyer", 0.05), ("none", 0.0)),
                               schedule="onecycle", one_cycle=True, precision="bf16",
                               latency_rounds=1)
    where = tmp_path / "ck"
    dense = run_plan(plan, root=shared_root, checkpoint_dir=where, only="dense", log=lambda s: None)
    assert [r["method"] for r in dense] == ["dense"]
    assert sorted(p.name for p in where.glob("*.pt")) == [
        "dense-1.pt", "dense-2.pt", "dense-finetune.pt"]
    hoyer_only = dataclasses.replace(plan, strengths=(("hoyer", 0.05),))
    svd = run_plan(hoyer_only, root=shared_root, checkpoint_dir=where, only="svd",
                   log=lambda s: None)
    assert [r["method"] for r in svd] == ["svd-hoyer"]
    assert not (where / "stage2-none-0.pt").exists()
    base = run_plan(plan, root=shared_root, checkpoint_dir=where, only="baselines",
                    log=lambda s: None)
    assert [r["method"] for r in base] == ["svd-hoyer", "dense", "truncated-svd", "filter-l1"]
    assert not (where / "stage2-none-0.pt").exists()  # baselines train no other variant
    trained = {p.name: p.stat().st_mtime_ns for p in where.glob("*.pt")}
    rows = run_plan(plan, root=shared_root, checkpoint_dir=where, log=lambda s: None)
    # the whole run trains only what no part did (the none variant) and reads the rest
    assert {p: where.joinpath(p).stat().st_mtime_ns for p in trained} == trained
    acc = {r["method"]: r["test_acc"] for r in rows}
    assert acc["dense"] == dense[0]["test_acc"] and acc["svd-hoyer"] == svd[0]["test_acc"]
    assert rows[-1]["method"] == "original" and "svd-none" in acc
    with pytest.raises(InvalidConfigError, match="dense, svd, baselines"):
        run_plan(plan, root=shared_root, checkpoint_dir=where, only="stage1")
    with pytest.raises(InvalidConfigError, match="checkpoint_dir"):
        run_plan(plan, root=shared_root, only="dense")


@pytest.mark.parametrize(("speedup", "verdict"), [(0.9, "yes"), (0.5, "no"),
                                                  (None, "not measured")])
def test_latency_claim_compares_speedup_with_the_flops_reduction(speedup, verdict):
    from carbide.compression.lowrank.repro import _latency_claim

    row = {"flops_reduction": 1.2, "latency_speedup": speedup, "setting": "E=0.1",
           "deployed_flops_reduction": 1.1}
    claim = _latency_claim(row, at_ref=True)
    assert claim.verdict.startswith(verdict)
    assert ("0.75" in claim.ours) == (speedup == 0.9)  # 0.9 / 1.2

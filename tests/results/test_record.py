from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest

from carbide._io import atomic_write
from carbide.exceptions import CarbideError, InvalidConfigError
from carbide.results import (
    RESULT_KEYS,
    Claim,
    Report,
    RunRecorder,
    machine_note,
    markdown_table,
    read_results,
    subplots,
    to_jsonable,
)


@dataclass
class _Config:
    lr: float
    name: str


def test_finish_writes_the_results_contract(tmp_path):
    rec = RunRecorder(
        tmp_path / "run", system="demo", config=_Config(0.1, "x"), command="carbide demo"
    )
    result = rec.finish(
        metrics={"test_acc": 0.5, "bad": float("nan")},
        rows=[{"bits": 1, "acc": 0.4}, {"bits": 2, "acc": 0.45}],
        report=Report("demo").paragraph("hello"),
    )
    on_disk = read_results(tmp_path / "run")
    assert tuple(on_disk) == RESULT_KEYS
    assert on_disk == json.loads(json.dumps(result))
    assert on_disk["config"] == {"lr": 0.1, "name": "x"}
    assert on_disk["metrics"] == {"test_acc": 0.5, "bad": None}  # strict JSON: NaN -> null
    assert on_disk["rows"][1] == {"bits": 2, "acc": 0.45}
    assert on_disk["command"] == "carbide demo"
    assert on_disk["duration_s"] >= 0
    assert "packages" in on_disk["versions"]
    assert (tmp_path / "run" / "report.md").read_text().startswith("# demo")


def test_unserializable_metric_leaves_no_results_file(tmp_path):
    rec = RunRecorder(tmp_path, system="demo", config={})
    with pytest.raises(TypeError, match="results.json"):
        rec.finish(metrics={"x": object()}, report="r")
    assert not (tmp_path / "results.json").exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_keeps_the_old_file_when_the_writer_crashes(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half of a new fi")
        raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_atomic_files_get_the_usual_permissions(tmp_path):
    with atomic_write(tmp_path / "a.json") as fh:
        fh.write("{}")
    (tmp_path / "b.json").write_text("{}")  # what a plain open() gives under this umask
    assert (tmp_path / "a.json").stat().st_mode == (tmp_path / "b.json").stat().st_mode


def test_out_must_not_be_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InvalidConfigError, match="is a file"):
        RunRecorder(f, system="demo", config={})


def test_save_figure_writes_a_png(tmp_path):
    rec = RunRecorder(tmp_path, system="demo", config={})
    fig, ax = subplots()
    ax.plot([0, 1], [1, 0])
    path = rec.save_figure(fig, "line.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InvalidConfigError, match=r"\.png"):
        rec.save_figure(fig, "line.jpg")


def test_read_results_rejects_missing_and_partial_files(tmp_path):
    with pytest.raises(CarbideError, match="did not finish"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text('{"system": "x"}')
    with pytest.raises(CarbideError, match="lacks command"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(CarbideError, match="not valid JSON"):
        read_results(tmp_path)


def test_to_jsonable_converts_numpy_and_torch_scalars(tmp_path):
    import numpy as np
    import torch

    out = to_jsonable({"a": np.float32(1.5), "b": torch.tensor(2), "c": np.arange(3),
                       "d": (tmp_path, math.inf)})
    assert out == {"a": 1.5, "b": 2, "c": [0, 1, 2], "d": [str(tmp_path), None]}
    json.dumps(out, allow_nan=False)


def test_markdown_table_formats_and_escapes():
    text = markdown_table([{"a": 1.23456789, "b": "x|y"}, {"a": None}], floatfmt=".3f")
    lines = text.splitlines()
    assert lines[0] == "| a | b |"
    assert lines[2] == "| 1.235 | x\\|y |"
    assert lines[3] == "| — | — |"


def test_report_puts_the_paper_claim_beside_ours():
    text = (
        Report("t")
        .claims([Claim("ratio", ">30x", "32x", "Cora", True)])
        .image("a.png", "accuracy")
        .render()
    )
    assert "| ratio | >30x | 32x | yes | Cora |" in text
    assert "![accuracy](a.png)" in text


def test_the_folder_is_made_only_when_a_file_is_written(tmp_path):
    rec = RunRecorder(tmp_path / "run", system="demo", config={}, command="carbide demo")
    assert not (tmp_path / "run").exists()  # a run failing here leaves nothing behind
    rec.finish(metrics={}, report="hello")
    assert (tmp_path / "run" / "results.json").is_file()


def test_the_report_ends_with_the_load_the_run_saw(tmp_path, monkeypatch):
    import os

    loads = iter([(3.5, 2.0, 1.0), (0.25, 1.0, 1.0)])
    monkeypatch.setattr(os, "getloadavg", lambda: next(loads))
    result = RunRecorder(tmp_path, system="demo", config={}, command="c").finish(
        metrics={}, report=Report("demo").paragraph("hello"))
    assert result["versions"]["load_average"] == {"start": [3.5, 2.0, 1.0],
                                                  "end": [0.25, 1.0, 1.0]}
    last = (tmp_path / "report.md").read_text().rstrip("\n").splitlines()[-1]
    assert "load average 3.5 at the start and 0.25 at the end" in last


def test_machine_note_of_a_record_without_load_says_so():
    note = machine_note({"versions": {"cpu_count": 2, "omp_num_threads": "1"}})
    assert "2 cores" in note and "not recorded at the start" in note


def test_bind_plan_folder_writes_the_key_once_and_refuses_another(tmp_path):
    from carbide.results import bind_plan_folder

    where = tmp_path / "out" / "stages"
    key = {"plan": {"sizes": (1, 2)}, "seed": 0}
    assert bind_plan_folder(where, key) == where
    assert json.loads((where / "plan.json").read_text()) == {"plan": {"sizes": [1, 2]}, "seed": 0}
    assert bind_plan_folder(where, key) == where  # the same key: reused
    with pytest.raises(InvalidConfigError, match="holds checkpoints of another plan"):
        bind_plan_folder(where, {**key, "seed": 1}, what="checkpoints")
    assert json.loads((where / "plan.json").read_text())["seed"] == 0  # nothing overwritten

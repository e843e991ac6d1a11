from __future__ import annotations

import dataclasses

import pytest

from carbide import systems
from carbide.exceptions import CarbideError, InvalidConfigError
from carbide.results import RunRecorder, read_results


def fake_repro(out, *, quick, seed=0):
    """A stand-in reproduction used only to test the orchestration of `repro all`."""
    rec = RunRecorder(out, system="bifeat", config={"quick": quick, "seed": seed})
    return rec.finish(metrics={"test_acc": 0.5, "quick": quick}, report="# fake\n")


def failing_repro(out, *, quick, seed=0):
    raise RuntimeError("boom in the reproduction")


def _with_built(monkeypatch, **repros):
    _all_planned(monkeypatch)
    table = dict(systems.SYSTEMS)
    for name, spec in repros.items():
        table[name] = dataclasses.replace(table[name], cli="carbide.cli.info:info", repro=spec)
    monkeypatch.setattr(systems, "SYSTEMS", table)


def test_ten_systems_each_planned_or_fully_built():
    assert len(systems.SYSTEMS) == 10
    assert {s.package.split(".")[0] for s in systems.SYSTEMS.values()} == {"carbide"}
    for s in systems.SYSTEMS.values():  # built means both entry points; planned means neither
        assert (s.cli is None) == (s.repro is None), s.name
        assert s.status == ("built" if s.cli else "planned")


def _all_planned(monkeypatch):
    table = {n: dataclasses.replace(s, cli=None, repro=None) for n, s in systems.SYSTEMS.items()}
    monkeypatch.setattr(systems, "SYSTEMS", table)


def test_built_systems_name_importable_entry_points():
    built = [s for s in systems.SYSTEMS.values() if s.built]
    assert built, "at least one system is built"
    for s in built:
        assert callable(systems.load_entry_point(s.repro))
        assert systems.load_entry_point(s.cli).name == s.name


def test_reproduce_all_lists_planned_systems_without_running_them(tmp_path, monkeypatch):
    _all_planned(monkeypatch)
    result = systems.reproduce_all(tmp_path, quick=True)
    planned = [r for r in result["rows"] if r["status"] == "planned"]
    assert len(planned) == len([s for s in systems.SYSTEMS.values() if not s.built])
    assert result["metrics"]["systems_total"] == 10
    assert read_results(tmp_path)["system"] == "repro-all"
    assert "planned" in (tmp_path / "report.md").read_text()


def test_reproduce_all_runs_built_systems_and_links_their_reports(tmp_path, monkeypatch):
    _with_built(monkeypatch, bifeat=f"{__name__}:fake_repro")
    result = systems.reproduce_all(tmp_path, quick=True, seed=3)
    row = next(r for r in result["rows"] if r["system"] == "bifeat")
    assert row["status"] == "ok" and row["metrics"] == {"test_acc": 0.5, "quick": True}
    assert read_results(tmp_path / "bifeat")["config"] == {"quick": True, "seed": 3}
    assert "[bifeat/report.md](bifeat/report.md)" in (tmp_path / "report.md").read_text()


def test_a_failing_reproduction_is_recorded_and_raised_after_the_others(tmp_path, monkeypatch):
    _with_built(monkeypatch, bifeat=f"{__name__}:failing_repro", aoi=f"{__name__}:fake_repro")
    with pytest.raises(CarbideError, match=r"1 reproduction\(s\) failed \(bifeat\)"):
        systems.reproduce_all(tmp_path, quick=True)
    assert "boom in the reproduction" in (tmp_path / "bifeat" / "error.txt").read_text()
    index = read_results(tmp_path)
    assert index["metrics"]["reproductions_failed"] == 1
    assert read_results(tmp_path / "aoi")["metrics"]["test_acc"] == 0.5


def test_unknown_system_and_bad_entry_point():
    with pytest.raises(InvalidConfigError, match="choose one of"):
        systems.get_system("bifet")
    with pytest.raises(InvalidConfigError, match="module:attribute"):
        systems.load_entry_point("carbide.systems")

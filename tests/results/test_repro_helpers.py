"""The shared reproduction helpers: seed statistics, plan round trip, run/render, CLI."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import pytest

from carbide.exceptions import InvalidConfigError
from carbide.results import (
    Claim,
    Report,
    dataclass_from_dict,
    execute_repro,
    read_results,
    rerender,
    seed_summary,
    to_jsonable,
)


def test_seed_summary_uses_sample_std_and_t_interval():
    s = seed_summary([1.0, 2.0, 3.0])
    assert s.n == 3 and s.mean == 2.0
    assert s.std == pytest.approx(1.0)  # sample (ddof=1), not population (0.816)
    half = 4.303 * 1.0 / math.sqrt(3)
    assert (s.ci95_low, s.ci95_high) == pytest.approx((2.0 - half, 2.0 + half))


def test_seed_summary_one_value_has_no_spread_and_bad_values_raise():
    s = seed_summary([0.5])
    assert s.mean == 0.5 and math.isnan(s.std)
    assert s.to_dict("acc_")["acc_std"] is None
    with pytest.raises(InvalidConfigError, match="non-finite"):
        seed_summary([1.0, float("nan")])
    with pytest.raises(InvalidConfigError, match="at least one"):
        seed_summary([])


@dataclass(frozen=True)
class _Inner:
    lr: float = 0.1
    widths: tuple[int, ...] = (8, 16)


@dataclass(frozen=True)
class _Plan:
    inner: _Inner = field(default_factory=_Inner)
    seeds: tuple[int, ...] = (0, 1)
    limit: int | None = None
    expected_minutes: float = 0.1


def test_dataclass_round_trip_through_json():
    plan = _Plan(inner=_Inner(lr=1, widths=(4,)), seeds=(3,), limit=7)
    back = dataclass_from_dict(_Plan, json.loads(json.dumps(to_jsonable(plan))))
    assert back == plan and isinstance(back.inner.widths, tuple)
    with pytest.raises(InvalidConfigError, match="no field"):
        dataclass_from_dict(_Plan, {"bogus": 1})


def _run_plan(plan, *, seed=0, root=None):
    return [{"seed": s, "acc": 0.5 + 0.1 * s + seed} for s in plan.seeds]


def _render(rows, plan):
    from carbide.results import subplots

    acc = seed_summary(r["acc"] for r in rows)
    fig, ax = subplots()
    ax.plot([r["acc"] for r in rows])
    report = Report("toy").claims([Claim("acc", "0.6", f"{acc.mean:.3f}", holds=acc.mean > 0.5,
                                         figures={"acc": acc.mean})])
    report.figure(fig, "acc.png", "accuracy")
    return {"acc_mean": acc.mean, "n_rows": len(rows)}, report


def test_execute_then_rerender_gives_the_same_report(tmp_path):
    res = execute_repro(tmp_path, system="toy", plan=_Plan(), quick=True, seed=0, root=None,
                        run_plan=_run_plan, render=_render)
    assert res["metrics"]["acc_mean"] == pytest.approx(0.55)
    first = (tmp_path / "report.md").read_text()
    assert (tmp_path / "acc.png").stat().st_size > 0
    (tmp_path / "acc.png").unlink()
    (tmp_path / "report.md").write_text("stale")
    rerender(tmp_path, plan_cls=_Plan, render=_render)
    assert (tmp_path / "report.md").read_text() == first
    assert (tmp_path / "acc.png").is_file()
    assert read_results(tmp_path)["metrics"] == res["metrics"]


def test_execute_repro_rejects_a_bad_seed(tmp_path):
    with pytest.raises(InvalidConfigError, match="seed"):
        execute_repro(tmp_path / "x", system="toy", plan=_Plan(), quick=True, seed=-1,
                      root=None, run_plan=_run_plan, render=_render)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), "n/a"])
def test_claim_with_a_missing_figure_is_not_measured(bad):
    c = Claim("speedup", "2x", "nanx", holds=True, figures={"speedup": bad, "base": 1.0})
    assert c.verdict == "not measured (speedup missing)"
    table = Report("t").claims([c]).render()
    assert "| yes |" not in table and "not measured" in table


def test_claim_verdicts_with_figures():
    assert Claim("a", "p", "o", holds=True, figures={"x": 1.0}).verdict == "yes"
    assert Claim("a", "p", "o", holds=False, figures={"x": 1}).verdict == "no"
    assert Claim("a", "p", "o").verdict == "—"

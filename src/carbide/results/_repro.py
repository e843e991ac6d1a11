"""The shape every system's reproduction shares: seed statistics, plans, run/render, CLI.

A system's ``repro.py`` defines a frozen ``ReproPlan`` dataclass (with an
``expected_minutes`` field), ``QUICK_PLAN`` and ``FULL_PLAN``, and two public functions:

- ``run_plan(plan, *, seed=0, root=None) -> list[dict]``: the measured rows (the expensive part);
- ``render(rows, plan) -> (metrics, Report)``: headline metrics, claim table and plots from the
  rows alone (cheap, pure: it may attach figures with :meth:`Report.figure`).

``run_repro`` is then one call of :func:`execute_repro`, and ``carbide <system> render DIR``
re-renders a finished run's report from its ``results.json`` (:func:`rerender`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import statistics
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_write
from ..exceptions import CarbideError, InvalidConfigError
from ._record import RunRecorder, machine_note, read_results, to_jsonable
from ._report import Report

__all__ = [
    "SeedSummary",
    "add_repro_commands",
    "dataclass_from_dict",
    "execute_repro",
    "render_command",
    "repro_command",
    "rerender",
    "seed_summary",
]

# two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30; beyond, the normal 1.96
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


@dataclasses.dataclass(frozen=True)
class SeedSummary:
    """Mean, *sample* standard deviation (ddof = 1) and a Student-t 95% interval over seeds.

    With one value, ``std`` and the interval are NaN (one seed says nothing about spread);
    :meth:`to_dict` then writes them as ``None``.
    """

    n: int
    mean: float
    std: float
    ci95_low: float
    ci95_high: float

    def to_dict(self, prefix: str = "") -> dict[str, float | int | None]:
        """``{prefix+"mean", prefix+"std", prefix+"ci95_low", prefix+"ci95_high", prefix+"n"}``."""
        return {f"{prefix}{k}": to_jsonable(v) for k, v in dataclasses.asdict(self).items()}

    def __str__(self) -> str:
        if self.n < 2:
            return f"{self.mean:.4g} (1 seed)"
        return f"{self.mean:.4g} ± {self.std:.2g} (n = {self.n})"


def seed_summary(values: Iterable[float]) -> SeedSummary:
    """Summarize one figure measured under several seeds (the one helper every repro uses).

    Args:
        values: the per-seed figures; NaN or infinite values are an error (a seed that failed
            must be reported, not averaged in).

    Raises:
        InvalidConfigError: no values, or a non-finite one.
    """
    vals = [float(v) for v in values]
    if not vals:
        raise InvalidConfigError("seed_summary needs at least one value, got none")
    bad = [v for v in vals if not math.isfinite(v)]
    if bad:
        raise InvalidConfigError(f"seed_summary got non-finite values {bad}: report the failed "
                                 "seeds instead of averaging them")
    mean = statistics.fmean(vals)
    if len(vals) < 2:
        nan = float("nan")
        return SeedSummary(1, mean, nan, nan, nan)
    std = statistics.stdev(vals)
    df = len(vals) - 1
    t = _T975[df - 1] if df <= len(_T975) else 1.96
    half = t * std / math.sqrt(len(vals))
    return SeedSummary(len(vals), mean, std, mean - half, mean + half)


def _from_value(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        for arg in args:
            try:
                return _from_value(arg, value)
            except (TypeError, ValueError):
                continue
        return value
    if dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
        return dataclass_from_dict(tp, value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_value(args[0], v) for v in value)
        if args:
            return tuple(_from_value(a, v) for a, v in zip(args, value, strict=True))
        return tuple(value)
    if origin in (list, Sequence):
        (arg,) = typing.get_args(tp) or (Any,)
        return [_from_value(arg, v) for v in value]
    if origin in (dict, Mapping):
        args = typing.get_args(tp)
        vt = args[1] if len(args) == 2 else Any
        return {k: _from_value(vt, v) for k, v in value.items()}
    if tp is float and isinstance(value, int):
        return float(value)
    if isinstance(tp, type) and tp in (int, str, bool, float) and not isinstance(value, tp):
        raise TypeError(f"expected {tp.__name__}, got {value!r}")
    return value


def dataclass_from_dict(cls: type, data: Mapping[str, Any]) -> Any:
    """Rebuild a (nested, frozen) dataclass from what :func:`to_jsonable` wrote.

    Tuples, nested dataclasses, optionals and mappings follow the field annotations, so a
    plan read back from ``results.json`` equals the plan that wrote it.

    Raises:
        InvalidConfigError: a key that is not a field of ``cls``.
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidConfigError(f"{cls.__name__} has no field(s) {unknown}; fields: "
                                 f"{sorted(names)}")
    kwargs = {k: _from_value(hints.get(k, Any), v) for k, v in data.items()}
    return cls(**kwargs)


def bind_plan_folder(where: str | os.PathLike[str], key: Mapping[str, Any], *,
                     what: str = "stages") -> Path:
    """Create ``where`` (a resumable run's ``OUT/stages`` or ``OUT/checkpoints``) bound to
    ``key`` (the plan fields and seed its contents depend on), or check an existing one.

    The key is written once as ``where/plan.json`` (atomically); a later run with another key
    is refused, so a resumed run never mixes stages of two plans.

    Raises:
        InvalidConfigError: ``where`` holds ``what`` of another plan or seed.
    """
    where = Path(where)
    key = json.loads(json.dumps(to_jsonable(dict(key))))  # tuples as lists, as read back
    stamp = where / "plan.json"
    if stamp.exists():
        found = json.loads(stamp.read_text())
        if found != key:
            raise InvalidConfigError(
                f"{where} holds {what} of another plan or seed ({found}); resume with that "
                "plan and seed, or give another output folder")
    else:
        where.mkdir(parents=True, exist_ok=True)
        with atomic_write(stamp) as fh:
            fh.write(json.dumps(key, indent=2) + "\n")
    return where


def execute_repro(
    out: str | os.PathLike[str],
    *,
    system: str,
    plan: Any,
    quick: bool,
    seed: int,
    root: str | os.PathLike[str] | None,
    run_plan: Callable[..., list[dict[str, Any]]],
    render: Callable[[list[dict[str, Any]], Any], tuple[Mapping[str, Any], Report]],
) -> dict[str, Any]:
    """The body of every ``run_repro``: record, run the plan, render, write the contract.

    ``results.json`` stores ``config = {"quick", "seed", "plan"}`` so :func:`rerender` can
    rebuild the plan; rows are passed through JSON before rendering, so a fresh render and a
    re-render see the same values.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise InvalidConfigError(f"seed must be a non-negative integer, got {seed!r}")
    recorder = RunRecorder(out, system=system, config={"quick": quick, "seed": seed,
                                                      "plan": plan})
    rows = to_jsonable(run_plan(plan, seed=seed, root=root))
    metrics, report = render(rows, plan)
    return recorder.finish(metrics=metrics, rows=rows, report=report)


def rerender(out: str | os.PathLike[str], *, plan_cls: type,
             render: Callable[[list[dict[str, Any]], Any], tuple[Mapping[str, Any], Report]],
             ) -> dict[str, Any]:
    """Re-render ``out/report.md``, its plots and the metrics from ``out/results.json``.

    Rows, config, command, versions and timings are kept; only ``metrics`` and the report
    (with its figures) are rewritten.
    """
    data = read_results(out)
    plan_data = (data.get("config") or {}).get("plan")
    if not isinstance(plan_data, Mapping):
        raise CarbideError(f"{Path(out) / 'results.json'} has no config.plan: it was not written "
                           "by a reproduction, so it cannot be re-rendered")
    plan = dataclass_from_dict(plan_cls, plan_data)
    metrics, report = render(data["rows"], plan)
    report.save_figures(out)
    text = report.render()
    with atomic_write(Path(out) / "report.md") as fh:
        fh.write(text.rstrip("\n") + "\n\n" + machine_note(data) + "\n")
    data["metrics"] = to_jsonable(dict(metrics))
    with atomic_write(Path(out) / "results.json") as fh:
        fh.write(json.dumps(data, indent=2, allow_nan=False) + "\n")
    return data


def _repro_module(system: str):
    import importlib

    from ..systems import get_system

    info = get_system(system)
    if info.repro is None:
        raise CarbideError(f"{system} is planned, not built: it has no reproduction yet")
    module, _, _ = info.repro.partition(":")
    return importlib.import_module(module)


def repro_command(system: str, *, help: str,
                  summary: Callable[[Mapping[str, Any]], str] | None = None):
    """The ``carbide <system> repro`` click command, the same for every system.

    Options: ``--quick``, ``--seed`` (a non-negative integer), ``--out`` (required) and
    ``--root`` (data root, default ``$CARBIDE_DATA``). Before starting it prints the plan's
    ``expected_minutes``; when done, ``summary(metrics)`` (one line) and the report's path.
    """
    import click

    @click.command("repro", help=help)
    @click.option("--quick", is_flag=True, help="The quick plan (minutes on 2 cores).")
    @click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
    @click.option("--out", required=True, type=click.Path(file_okay=False),
                  help="Folder for results.json, report.md and plots.")
    @click.option("--root", default=None, type=click.Path(file_okay=False),
                  help="Data root (default: $CARBIDE_DATA).")
    def _repro(quick: bool, seed: int, out: str, root: str | None) -> None:
        mod = _repro_module(system)
        plan = mod.QUICK_PLAN if quick else mod.FULL_PLAN
        minutes = getattr(plan, "expected_minutes", None)
        if minutes is not None:
            click.echo(f"{system} repro ({'quick' if quick else 'full'}): expected about "
                       f"{minutes:g} min on 2 cores", err=True)
        result = mod.run_repro(out, quick=quick, seed=seed, root=root)
        line = summary(result["metrics"]) if summary is not None else "done"
        click.echo(f"{line} -> {out}/report.md")

    return _repro


def render_command(system: str):
    """The ``carbide <system> render DIR`` click command: re-render a finished reproduction."""
    import click

    @click.command("render")
    @click.argument("out", type=click.Path(file_okay=False, exists=True))
    def _render(out: str) -> None:
        """Re-render DIR/report.md, plots and metrics from DIR/results.json (rows kept)."""
        mod = _repro_module(system)
        rerender(out, plan_cls=mod.ReproPlan, render=mod.render)
        click.echo(f"re-rendered {out}/report.md")

    return _render


def add_repro_commands(group, system: str, *, help: str,
                       summary: Callable[[Mapping[str, Any]], str] | None = None) -> None:
    """Add ``repro`` (:func:`repro_command`) and ``render`` (:func:`render_command`) to a system's
    click group: the two commands every system's CLI ends with."""
    group.add_command(repro_command(system, help=help, summary=summary))
    group.add_command(render_command(system))

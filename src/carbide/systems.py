"""The ten systems carbide implements, and where each one plugs into the CLI and `repro all`.

A system is *built* once its issue has landed: it then names its click command group
(``cli``, ``"module:attribute"``) and its reproduction entry point (``repro``,
``"module:function"``). The reproduction function has the signature::

    run_repro(out, *, quick=False, seed=0, plan=None, root=None) -> dict

and writes the results contract into ``out`` (see :mod:`carbide.results`), returning the
results dict; its module also defines ``ReproPlan``, ``QUICK_PLAN``, ``FULL_PLAN``,
``run_plan(plan, *, seed=0, root=None) -> rows`` and ``render(rows, plan) -> (metrics, Report)``
(see :mod:`carbide.results._repro`; ``tests/test_system_contract.py`` checks all of it).
Systems not built yet keep ``cli = repro = None`` and are listed as planned — never faked.
"""

from __future__ import annotations

import importlib
import os
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .exceptions import CarbideError, InvalidConfigError

__all__ = ["SYSTEMS", "SystemInfo", "get_system", "load_entry_point", "quick_minutes",
           "reproduce_all", "systems_table"]


@dataclass(frozen=True)
class SystemInfo:
    """One system: its paper, package, CLI name and (once built) entry points."""

    name: str
    title: str
    paper: str
    package: str
    summary: str
    cli: str | None = None
    repro: str | None = None

    @property
    def built(self) -> bool:
        return self.cli is not None

    @property
    def status(self) -> str:
        return "built" if self.built else "planned"


SYSTEMS: dict[str, SystemInfo] = {
    s.name: s
    for s in (
        SystemInfo(
            "bifeat", "BiFeat", "arXiv 2207.14696", "carbide.compression.featquant",
            "scalar/vector quantization of GNN input features; compressed feature store",
            cli="carbide.compression.featquant.cli:bifeat",
            repro="carbide.compression.featquant.repro:run_repro",
        ),
        SystemInfo(
            "svdtrain", "SVD training", "arXiv 2004.09031", "carbide.compression.lowrank",
            "train layers as U diag(s) V^T with orthogonality + sparsity regularizers; prune ranks",
            cli="carbide.compression.lowrank.cli:svdtrain",
            repro="carbide.compression.lowrank.repro:run_repro",
        ),
        SystemInfo(
            "nasgem", "NASGEM", "arXiv 2007.04452", "carbide.nas.gem",
            "graph-embedding NAS: WL-kernel-supervised encoder, predictor, bootstrap search",
            cli="carbide.nas.gem.cli:nasgem",
            repro="carbide.nas.gem.repro:run_repro",
        ),
        SystemInfo(
            "nasrec", "NASRec", "arXiv 2207.07187", "carbide.nas.rec",
            "weight-sharing supernet NAS for CTR models",
            cli="carbide.nas.rec.cli:nasrec",
            repro="carbide.nas.rec.repro:run_repro",
        ),
        SystemInfo(
            "scalenas", "ScaleNAS", "arXiv 2011.14584", "carbide.nas.scale",
            "one-shot multi-scale supernet for dense prediction",
            cli="carbide.nas.scale.cli:scalenas",
            repro="carbide.nas.scale.repro:run_repro",
        ),
        SystemInfo(
            "smlt", "SMLT", "arXiv 2205.01853", "carbide.serverless",
            "serverless training with adaptive resource scheduling under deadline and budget",
            cli="carbide.serverless.cli:smlt",
            repro="carbide.serverless.repro:run_repro",
        ),
        SystemInfo(
            "citadel", "Citadel", "arXiv 2105.01281", "carbide.federated.secure",
            "collaborative training in enclaves with zero-sum masking, hierarchical aggregation",
            cli="carbide.federated.secure.cli:citadel",
            repro="carbide.federated.secure.repro:run_repro",
        ),
        SystemInfo(
            "backdoor", "FL backdoor under heterogeneity", "arXiv 2102.00655",
            "carbide.federated",
            "federated simulation, heterogeneity control, backdoor attacks and defenses",
            cli="carbide.federated.cli:backdoor",
            repro="carbide.federated.repro:run_repro",
        ),
        SystemInfo(
            "elasticbroker", "ElasticBroker", "arXiv 2010.04828", "carbide.insitu",
            "stream MPI simulation snapshots to a broker; online DMD on a stream engine",
            cli="carbide.insitu.cli:elasticbroker",
            repro="carbide.insitu.repro:run_repro",
        ),
        SystemInfo(
            "aoi", "Age of correlated features", "arXiv 2103.00092", "carbide.forecasting",
            "forecasting with stale features: age-aware datasets, joint training with age input",
            cli="carbide.forecasting.cli:aoi",
            repro="carbide.forecasting.repro:run_repro",
        ),
    )
}


def get_system(name: str) -> SystemInfo:
    """The :class:`SystemInfo` for ``name``; unknown names raise ``InvalidConfigError``."""
    try:
        return SYSTEMS[name]
    except KeyError:
        raise InvalidConfigError(
            f"unknown system {name!r}; choose one of: {', '.join(SYSTEMS)}"
        ) from None


def load_entry_point(spec: str) -> Callable[..., Any]:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise InvalidConfigError(f"entry point must look like 'module:attribute', got {spec!r}")
    return getattr(importlib.import_module(module), attr)


def quick_minutes(name: str) -> float | None:
    """``QUICK_PLAN.expected_minutes`` of a built system's reproduction (``None``: planned, or
    not stated). Imports the reproduction module (and so torch)."""
    info = get_system(name)
    if info.repro is None:
        return None
    module = importlib.import_module(info.repro.partition(":")[0])
    minutes = getattr(getattr(module, "QUICK_PLAN", None), "expected_minutes", None)
    return float(minutes) if minutes else None


def systems_table() -> str:
    """The README's table of the ten systems, generated from :data:`SYSTEMS` (a test checks
    that README.md holds exactly this text). "quick" is each quick reproduction's expected
    wall time on an idle 2-core machine."""
    lines = ["| system (paper) | what it does | package | CLI | status | quick run |",
             "|---|---|---|---|---|---|"]
    for s in SYSTEMS.values():
        minutes = quick_minutes(s.name)
        quick = "—" if minutes is None else f"{minutes:g} min"
        lines.append(f"| {s.title} ({s.paper}) | {s.summary} | `{s.package}` | "
                     f"`carbide {s.name}` | {s.status} | {quick} |")
    return "\n".join(lines) + "\n"


def reproduce_all(
    out: str | os.PathLike[str],
    *,
    quick: bool = False,
    seed: int = 0,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Run every built system's reproduction into ``out/<system>`` and write an index there.

    Systems still planned are listed as planned (nothing is run or faked for them). A system
    whose reproduction raises is recorded as failed, with its traceback in
    ``out/<system>/error.txt``; the others still run, the index is written, and then a
    :class:`~carbide.exceptions.CarbideError` names the failures.

    Args:
        out: folder for the index (``results.json``, ``report.md``) and one subfolder per system.
        quick: run each reproduction's quick mode (minutes on a laptop).
        seed: base seed passed to every reproduction.
        only: restrict to these system names (default: all).

    Returns:
        The index's results dict (see :mod:`carbide.results`).
    """
    from .results import Report, RunRecorder, format_value, markdown_table, track

    selected = [get_system(n) for n in only] if only else list(SYSTEMS.values())
    out = Path(out)
    recorder = RunRecorder(out, system="repro-all", config={"quick": quick, "seed": seed,
                                                           "only": list(only or [])})
    rows: list[dict[str, Any]] = []
    for system in track(selected, "reproductions"):
        row: dict[str, Any] = {"system": system.name, "title": system.title,
                               "paper": system.paper, "status": system.status,
                               "duration_s": None, "report": None, "metrics": None}
        if system.repro is not None:
            t0 = time.perf_counter()
            sub = out / system.name
            try:
                result = load_entry_point(system.repro)(sub, quick=quick, seed=seed)
            except Exception:  # recorded in error.txt and the index, then raised below
                sub.mkdir(parents=True, exist_ok=True)
                (sub / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
                row.update(status="failed", report=f"{system.name}/error.txt")
            else:
                row.update(status="ok", report=f"{system.name}/report.md",
                           metrics=result.get("metrics"))
            row["duration_s"] = round(time.perf_counter() - t0, 1)
        rows.append(row)

    built = [r for r in rows if r["status"] != "planned"]
    failed = [r["system"] for r in rows if r["status"] == "failed"]
    metrics = {"systems_total": len(rows), "systems_built": len(built),
               "reproductions_ok": len(built) - len(failed), "reproductions_failed": len(failed)}
    table_rows = [
        {**{k: r[k] for k in ("system", "title", "paper", "status", "duration_s")},
         "report": f"[{r['report']}]({r['report']})" if r["report"] else "—",
         "headline": ", ".join(f"{k}={format_value(v)}" for k, v in (r["metrics"] or {}).items())
         or "—"}
        for r in rows
    ]
    report = Report("carbide reproductions")
    report.paragraph(
        f"Mode: {'quick' if quick else 'full'}, seed {seed}. {len(built)} of {len(rows)} "
        f"systems are built and were run; the rest are planned and have no reproduction yet "
        f"(listed, not faked)."
    )
    report.paragraph(markdown_table(table_rows))
    result = recorder.finish(metrics=metrics, rows=rows, report=report)
    if failed:
        raise CarbideError(
            f"{len(failed)} reproduction(s) failed ({', '.join(failed)}); tracebacks in "
            f"{out}/<system>/error.txt, index at {out / 'report.md'}"
        )
    return result

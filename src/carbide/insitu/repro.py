"""``carbide elasticbroker repro`` / ``bench``: ElasticBroker's claims at laptop scale.

Paper: Li, Wang, Yan, Song, "ElasticBroker: Combining HPC with Cloud to Provide Realtime
Insights into Simulations", arXiv 2010.04828. The paper's claims, checked here:

1. streaming snapshots through the broker instead of writing them to files keeps the simulation
   close to its no-output speed (slowdown against no output and against file output);
2. the analysis keeps up with the stream (quality of service): the time to analyse a window, or
   a Spark micro-batch, stays below the time the stream takes to deliver it;
3. the online DMD gives real insight: its dominant frequency of the cylinder wake matches an FFT
   of a probe signal (Strouhal number near 0.2);
4. it scales with ranks (here 1 and 2 ranks: this machine has 2 cores, and the analysis and the
   Redis server share them, which the paper's separate cloud does not).

Transport throughput is set against a raw pipelined XADD loop in the same run (the physical
ceiling on this machine). The recorded OpenFOAM run is replayed through the same broker and
analysed too.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..results import Claim, Report, execute_repro, progress, subplots
from .experiment import InsituConfig, ReplayConfig, measure, run_insitu, run_replay

__all__ = ["FULL_PLAN", "QUICK_PLAN", "ReproPlan", "render", "run_plan", "run_repro"]


@dataclass(frozen=True)
class ReproPlan:
    """What one reproduction runs.

    Attributes:
        base: the LBM run (flow, steps, snapshot interval, DMD window).
        ranks: MPI rank counts measured (each with the local engine).
        reps: repetitions per output mode (medians are reported).
        spark: also run the Spark engine at the largest rank count.
        replay: also replay the recorded OpenFOAM run.
        expected_minutes: measured wall time on an idle 2-core machine.
    """

    base: InsituConfig
    ranks: tuple[int, ...]
    reps: int
    spark: bool
    replay: bool
    expected_minutes: float = 0.0


#: Quick: the 200 x 50 cylinder, 2 repetitions of the 4 output modes at 1 and 2 ranks, the
#: replay. 3.3 min wall under a load of 9-11 (other agents' jobs), 1.9 min of CPU over all
#: its processes on 2 cores: about 1.6 min estimated on an idle machine.
QUICK_PLAN = ReproPlan(
    base=InsituConfig(steps=3000, warmup=2000, every=10, window=100, window_stride=50, rank=8),
    ranks=(1, 2), reps=2, spark=False, replay=True, expected_minutes=1.0)
FULL_PLAN = ReproPlan(
    base=InsituConfig(steps=8000, warmup=5000, every=20, window=100, window_stride=50, rank=10,
                      flow={"nx": 400, "ny": 100, "radius": 10, "u_in": 0.08,
                            "reynolds": 150}),
    ranks=(1, 2), reps=3, spark=True, replay=True, expected_minutes=10.5)

#: What the quick plan cannot show at its size (printed in its report).
QUICK_LIMITS = (
    "Quick mode is a smaller run of the same claims: a 200 x 50 lattice for 3000 streamed "
    "steps, 2 repetitions per output mode (so a slowdown within a few percent of 1 is inside "
    "the timing noise of a shared machine), and no Spark engine (its quality of service and "
    "restart are in the full report, docs/reports/elasticbroker).")

_REPLAY = ReplayConfig(ranks=2, regions=2, field="U:0", window=10, window_stride=5, rank=6,
                       timeout_s=120)


def _strouhal(freq: float, flow: Mapping[str, Any]) -> float:
    from .lbm import CylinderFlow

    f = CylinderFlow(**flow)
    return freq * f.diameter / f.u_in


def run_plan(plan: ReproPlan, *, seed: int = 0,
             root: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """Measure what ``plan`` asks for; rows carry ``kind``:

    - ``setting``: one per measured setting (local engine per rank count, Spark, replay), the
      :func:`~.experiment.measure` / :func:`~.experiment.run_insitu` metrics;
    - ``window``: the analysed windows (``source``: ``local`` for the last live run at the
      largest rank count, ``spark``, ``replay``);
    - ``latencies``: every snapshot's end-to-end latency of those runs (``latencies_s``);
    - ``batch``: the Spark micro-batches.

    ``seed`` is recorded only: the simulation is deterministic, and what varies between runs is
    timing, which ``reps`` repetitions (medians) absorb. ``root``: the OpenFOAM data's root.
    """
    work = Path(tempfile.mkdtemp(prefix="carbide-eb-repro-"))
    rows: list[dict[str, Any]] = []
    total = len(plan.ranks) * plan.reps + int(plan.spark) + int(plan.replay)
    top = max(plan.ranks)

    def runs_of(source: str, res: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [*({"kind": "window", "source": source, **w} for w in res["windows"]),
                {"kind": "latencies", "source": source,
                 "latencies_s": [x for r in res["results"] for x in r.latencies_s]}]

    try:
        with progress() as bar:
            task = bar.add_task("elasticbroker repro", total=total)
            for p in plan.ranks:
                cfg = dataclasses.replace(plan.base, ranks=p, regions=min(p, plan.base.regions))
                res = measure(cfg, reps=plan.reps, out=work / f"p{p}",
                              on_rep=lambda: bar.advance(task))
                rows.append({"kind": "setting", "setting": f"lbm {p} rank(s), local engine",
                             "engine": "local", **res["metrics"]})
                if p == top:
                    rows += runs_of("local", res["last"])
            if plan.spark:
                cfg = dataclasses.replace(plan.base, ranks=top,
                                          regions=min(top, plan.base.regions), engine="spark")
                spark = run_insitu(cfg, work / "spark")
                rows.append({"kind": "setting", "setting": f"lbm {cfg.ranks} rank(s), spark "
                             "engine", "engine": "spark", "ranks": cfg.ranks,
                             **spark["metrics"]})
                rows += runs_of("spark", spark)
                rows += [{"kind": "batch", **b} for b in spark["batches"]]
                bar.advance(task)
            if plan.replay:
                replay = run_replay(_REPLAY, work / "replay", root=root)
                rows.append({"kind": "setting", "setting": "openfoam replay, 2 ranks",
                             "engine": "replay", "field": _REPLAY.field, **replay["metrics"]})
                rows += runs_of("replay", replay)
                bar.advance(task)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def run_repro(out: str | os.PathLike[str], *, quick: bool = False, seed: int = 0,
              plan: ReproPlan | None = None,
              root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Run the reproduction and write the results contract into ``out`` (see
    :func:`run_plan`; ``root`` is the data root of the OpenFOAM snapshots)."""
    plan = plan or (QUICK_PLAN if quick else FULL_PLAN)
    return execute_repro(out, system="elasticbroker", plan=plan, quick=quick, seed=seed,
                         root=root, run_plan=run_plan, render=render)


def _of(rows: Sequence[Mapping[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in rows
            if r["kind"] == kind and all(r.get(k) == v for k, v in match.items())]


def render(rows: Sequence[Mapping[str, Any]], plan: ReproPlan) -> tuple[dict[str, Any], Report]:
    """Metrics, claim table and figures from :func:`run_plan`'s rows alone."""
    settings = _of(rows, "setting")
    by_ranks = {int(r["ranks"]): r for r in settings if r["engine"] == "local"}
    spark = next((r for r in settings if r["engine"] == "spark"), None)
    replay = next((r for r in settings if r["engine"] == "replay"), None)
    batches = _of(rows, "batch")
    m = by_ranks[max(plan.ranks)]
    flow = plan.base.flow
    st_dmd, st_fft = _strouhal(m["dominant_freq"], flow), _strouhal(m["fft_freq"], flow)
    freq_err = abs(m["dominant_freq"] - m["fft_freq"]) / m["fft_freq"]
    hop_s = plan.base.window_stride * plan.base.every * m["time_per_step_broker_s"]
    skip = ("kind", "setting", "engine", "ranks")
    metrics: dict[str, Any] = {
        **{k: v for k, v in m.items() if k not in skip},
        "ranks": max(plan.ranks),
        "strouhal_dmd": st_dmd, "strouhal_fft": st_fft, "freq_rel_error": freq_err,
        "window_hop_s": hop_s,
        "time_per_step_none_1rank_s": by_ranks[min(plan.ranks)]["time_per_step_none_s"],
    }
    if spark is not None:
        steady = [b["processing_s"] for b in batches[1:]]  # the first starts the workers
        metrics.update({
            "spark_batch_processing_s_mean": spark.get("batch_processing_s_mean"),
            "spark_batch_processing_s_max": spark.get("batch_processing_s_max"),
            "spark_batch_processing_s_median_steady": (float(np.median(steady)) if steady
                                                       else None),
            "spark_batches": len(batches),
            "spark_dominant_freq": spark["dominant_freq"],
            "spark_e2e_latency_p50_s": spark["e2e_latency_p50_s"],
        })
    if replay is not None:
        metrics["replay_throughput_mb_s"] = replay["throughput_mb_s"]
        metrics["replay_dmd_error_mean"] = replay["dmd_error_mean"]

    # the quick plan, whatever time it was expected to take when it ran
    quick = dataclasses.replace(plan, expected_minutes=QUICK_PLAN.expected_minutes) == QUICK_PLAN
    spark_qos = (
        f"; Spark micro-batches {metrics['spark_batch_processing_s_median_steady']:.2f} s"
        f" median after the first ({metrics['spark_batch_processing_s_mean']:.2f} s "
        f"mean, {metrics['spark_batch_processing_s_max']:.2f} s max over "
        f"{metrics['spark_batches']}) vs the {plan.base.trigger_s:.0f} s trigger"
        if spark is not None and metrics["spark_batch_processing_s_median_steady"] is not None
        else "")
    qos_figures = {"analysis_s_mean": m["analysis_s_mean"], "window_hop_s": hop_s}
    if spark is not None:
        qos_figures["spark_batch_processing_s_median_steady"] = metrics[
            "spark_batch_processing_s_median_steady"]
    claims = [
        Claim("simulation cost of streaming vs writing files",
              "broker output costs less than file output and little over no output",
              f"time/step x{m['slowdown_vs_nowrite']:.3f} vs no output, "
              f"x{m['slowdown_vs_file']:.3f} vs .npy files ({max(plan.ranks)} ranks, analysis "
              f"elsewhere in time); x{m['slowdown_live_vs_nowrite']:.3f} vs no output with the "
              "analysis live on the same cores",
              "2-D LBM on a 2-core laptop; files go to the local page cache (not a parallel "
              "file system); Redis on the same cores",
              holds=m["slowdown_vs_file"] <= 1.0,
              figures={"slowdown_vs_file": m["slowdown_vs_file"],
                       "slowdown_vs_nowrite": m["slowdown_vs_nowrite"]}),
        Claim("quality of service: analysis keeps up with the stream",
              "micro-batch analysis within the 3 s trigger",
              f"DMD per window {m['analysis_s_mean']:.3f} s against {hop_s:.2f} s of new data "
              f"per window hop" + spark_qos,
              "embedded consumer-group engine" + (" and Spark local[2] on the same 2 cores"
                                                  if spark else ""),
              holds=m["analysis_s_mean"] < hop_s and (
                  spark is None
                  or (metrics["spark_batch_processing_s_median_steady"] or np.inf)
                  <= plan.base.trigger_s),
              figures=qos_figures),
        Claim("DMD gives the wake's physics online",
              "high-quality analytics of the running simulation",
              f"dominant DMD frequency {m['dominant_freq']:.5f} vs probe FFT "
              f"{m['fft_freq']:.5f} per step ({100 * freq_err:.1f}% apart); St {st_dmd:.3f} "
              f"(DMD) / {st_fft:.3f} (FFT)",
              f"cylinder at Re {flow.get('reynolds')}, issue's bar: within 5% and St near 0.2",
              holds=freq_err < 0.05 and 0.15 <= st_dmd <= 0.25,
              figures={"dominant_freq": m["dominant_freq"], "fft_freq": m["fft_freq"]}),
        Claim("transport near the machine's ceiling",
              "streams at the network's rate",
              f"broker put path {m['broker_mb_s']:.0f} MB/s vs raw XADD loop "
              f"{m['raw_redis_mb_s']:.0f} MB/s; in the run {m['throughput_mb_s']:.2f} MB/s "
              "(the simulation's own output rate)",
              "loopback Redis, float32 snapshots", holds=None),
    ]
    cols = ["setting", "time_per_step_none_s", "time_per_step_file_s", "time_per_step_broker_s",
            "time_per_step_broker_live_s", "slowdown_vs_nowrite", "slowdown_vs_file",
            "slowdown_live_vs_nowrite", "throughput_mb_s", "broker_mb_s",
            "raw_redis_mb_s", "e2e_latency_p50_s", "e2e_latency_p95_s", "result_lag_p50_s",
            "analysis_s_mean", "dominant_freq", "fft_freq"]
    report = (
        Report("ElasticBroker reproduction" + (" (quick)" if quick else ""))
        .paragraph(
            "Li et al., ElasticBroker (arXiv 2010.04828). An MPI lattice-Boltzmann cylinder flow "
            "(mpi4py, mpiexec from the mpich wheel) streams its vorticity through carbide's "
            "Broker into Redis Streams (embedded redis-server on loopback); windowed exact DMD "
            "(PyDMD) runs on each region stream in a consumer group"
            + (" and, separately, in Spark Structured Streaming" if spark else "") + ". "
            f"Flow {flow}; warm-up {plan.base.warmup} steps, then {plan.base.steps} steps, a "
            f"snapshot every {plan.base.every}; DMD window {plan.base.window} snapshots, hop "
            f"{plan.base.window_stride}, rank {plan.base.rank}. Times are medians of "
            f"{plan.reps} runs. The paper reports these figures as plots on its own hardware "
            "(Stampede2 + Jetstream), so the claims are compared in kind, not in number. "
            "Everything here (ranks, Redis, analysis, and whatever else runs on the machine) "
            "shares 2 cores, so 2 ranks are not expected to beat 1 and timings carry that "
            "noise.")
        .claims(claims)
    )
    if quick:
        report.paragraph(QUICK_LIMITS)
    report.heading("Runs").table(settings, cols)
    report.figure(_time_figure(by_ranks), "time_per_step.png",
                  "time per step: no output, files, broker")
    report.figure(_latency_figure(rows), "latency.png",
                  "end-to-end latency per snapshot (put -> DMD result)")
    report.figure(_frequency_figure(_of(rows, "window", source="local"), m["fft_freq"]),
                  "dmd_frequency.png", "dominant DMD frequency per window vs the probe FFT")
    if spark is not None and batches:
        report.figure(_batch_figure(batches, plan.base.trigger_s), "spark_batches.png",
                      "Spark micro-batch processing time vs the trigger")
    if replay is not None:
        report.heading("OpenFOAM replay").paragraph(
            f"The 20 recorded OpenFOAM snapshots (field {replay['field']}) replayed by "
            f"{_REPLAY.ranks} ranks into {_REPLAY.regions} region streams; DMD window "
            f"{_REPLAY.window}, hop {_REPLAY.window_stride}, rank {_REPLAY.rank}: "
            f"{replay['windows']} windows, mean reconstruction error "
            f"{replay['dmd_error_mean']:.4f}, {replay['throughput_mb_s']:.2f} MB/s.").table(
            _of(rows, "window", source="replay"),
            ["region", "window", "first_step", "dominant_freq", "error"])
    return metrics, report


def _time_figure(by_ranks: Mapping[int, Mapping[str, Any]]) -> Any:
    fig, ax = subplots(figsize=(6, 3.5))
    ranks = sorted(by_ranks)
    width = 0.2
    for i, (key, label) in enumerate([("none", "no output"), ("file", ".npy files"),
                                      ("broker", "broker (analysis elsewhere)"),
                                      ("broker_live", "broker (analysis live, same cores)")]):
        ys = [1e3 * by_ranks[p][f"time_per_step_{key}_s"] for p in ranks]
        ax.bar(np.arange(len(ranks)) + (i - 1.5) * width, ys, width, label=label)
    ax.set_xticks(np.arange(len(ranks)), [f"{p} rank(s)" for p in ranks])
    ax.set_ylabel("ms per step")
    ax.legend()
    return fig


def _latency_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    fig, ax = subplots(figsize=(6, 3.5))
    for source, label in (("local", "local engine"), ("spark", "spark engine")):
        for r in _of(rows, "latencies", source=source):
            lat = sorted(r["latencies_s"])
            if lat:
                ax.plot(lat, np.arange(1, len(lat) + 1) / len(lat), label=label)
    ax.set_xlabel("end-to-end latency (s)")
    ax.set_ylabel("fraction of snapshots")
    ax.legend()
    return fig


def _frequency_figure(windows: Sequence[Mapping[str, Any]], fft_freq: float) -> Any:
    fig, ax = subplots(figsize=(6, 3.5))
    for region in sorted({w["region"] for w in windows}):
        ws = [w for w in windows if w["region"] == region]
        ax.plot([w["first_step"] for w in ws], [w["dominant_freq"] for w in ws], "o-",
                label=f"DMD, region {region}")
    ax.axhline(fft_freq, color="k", ls="--", label="probe FFT")
    ax.set_xlabel("window start (step)")
    ax.set_ylabel("frequency (1/step)")
    ax.legend()
    return fig


def _batch_figure(batches: Sequence[Mapping[str, Any]], trigger_s: float) -> Any:
    fig, ax = subplots(figsize=(6, 3.5))
    ax.bar([x["batch_id"] for x in batches], [x["processing_s"] for x in batches])
    ax.axhline(trigger_s, color="k", ls="--", label="trigger")
    ax.set_xlabel("micro-batch")
    ax.set_ylabel("foreachBatch time (s)")
    ax.legend()
    return fig

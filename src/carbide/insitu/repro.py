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
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..results import Claim, Report, RunRecorder, progress, subplots
from .experiment import (
    InsituConfig,
    broker_throughput,
    raw_redis_throughput,
    run_baselines,
    run_insitu,
)

__all__ = ["FULL_PLAN", "QUICK_PLAN", "ReproPlan", "measure", "run_repro"]


@dataclass(frozen=True)
class ReproPlan:
    base: InsituConfig
    ranks: tuple[int, ...]
    reps: int
    spark: bool
    replay: bool


QUICK_PLAN = ReproPlan(
    base=InsituConfig(steps=3000, warmup=2000, every=10, window=100, window_stride=50, rank=8),
    ranks=(1, 2), reps=2, spark=False, replay=True)
FULL_PLAN = ReproPlan(
    base=InsituConfig(steps=8000, warmup=5000, every=20, window=100, window_stride=50, rank=10,
                      flow={"nx": 400, "ny": 100, "radius": 10, "u_in": 0.08,
                            "reynolds": 150}),
    ranks=(1, 2), reps=3, spark=True, replay=True)


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def measure(cfg: InsituConfig, *, reps: int = 1, out: str | Path | None = None,
            bar: Any = None, task: Any = None) -> dict[str, Any]:
    """Time the simulation with no output, file output and the broker (``reps`` runs each,
    medians), and the transport ceiling; the ``carbide elasticbroker bench`` metrics.

    The broker runs twice per repetition: with the analysis deferred until the simulation ends
    (``broker``: what the simulation pays for streaming when the analysis runs elsewhere, the
    paper's setting; ``slowdown_vs_*`` use it) and with the analysis live on the same machine
    (``broker_live``: latencies come from it; ``slowdown_live_vs_nowrite``).

    Returns:
        ``{"metrics": {...}, "runs": {"none": [...], "file": [...], "broker": [...]},
        "last": the last broker run (see :func:`~carbide.insitu.experiment.run_insitu`)}``.
    """
    from .server import EmbeddedRedis

    work = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="carbide-eb-bench-"))
    runs: dict[str, list[dict[str, Any]]] = {"none": [], "file": [], "broker": [],
                                             "broker_live": []}
    last = None
    for rep in range(reps):
        base = run_baselines(cfg, work / f"rep{rep}")
        runs["none"].append(base["none"])
        runs["file"].append(base["file"])
        deferred = run_insitu(cfg, work / f"rep{rep}", defer_analysis=True)
        runs["broker"].append({**deferred["sim"], "metrics": deferred["metrics"]})
        last = run_insitu(cfg, work / f"rep{rep}")
        runs["broker_live"].append({**last["sim"], "metrics": last["metrics"]})
        if bar is not None:
            bar.advance(task)
    per_step = {k: _median([r["time_per_step_s"] for r in v]) for k, v in runs.items()}
    nx, ny = cfg.flow.get("nx", 400), cfg.flow.get("ny", 100)
    shape = (ny // cfg.stride, nx // cfg.ranks // cfg.stride)
    raws, puts = [], []
    with EmbeddedRedis() as server:
        for _ in range(3):  # alternate, then take medians: the machine's load drifts
            raws.append(raw_redis_throughput(server.url, nbytes=shape[0] * shape[1] * 4))
            puts.append(broker_throughput(server.url, shape=shape))
    raw, put = _median(raws), _median(puts)
    bm = [r["metrics"] for r in runs["broker_live"]]
    bd = [r["metrics"] for r in runs["broker"]]
    metrics = {
        "ranks": cfg.ranks,
        "time_per_step_none_s": per_step["none"],
        "time_per_step_file_s": per_step["file"],
        "time_per_step_broker_s": per_step["broker"],
        "time_per_step_broker_live_s": per_step["broker_live"],
        "slowdown_vs_nowrite": per_step["broker"] / per_step["none"],
        "slowdown_vs_file": per_step["broker"] / per_step["file"],
        "slowdown_live_vs_nowrite": per_step["broker_live"] / per_step["none"],
        "file_slowdown_vs_nowrite": per_step["file"] / per_step["none"],
        "throughput_mb_s": _median([m["throughput_mb_s"] for m in bd]),
        "throughput_live_mb_s": _median([m["throughput_mb_s"] for m in bm]),
        "broker_mb_s": put,
        "raw_redis_mb_s": raw,
        "put_latency_mean_s": _median([m["put_latency_mean_s"] for m in bm]),
        "e2e_latency_p50_s": _median([m["e2e_latency_p50_s"] for m in bm]),
        "e2e_latency_p95_s": _median([m["e2e_latency_p95_s"] for m in bm]),
        "result_lag_p50_s": _median([m["result_lag_p50_s"] for m in bm]),
        "analysis_s_mean": _median([m["analysis_s_mean"] for m in bm]),
        "dominant_freq": _median([m["dominant_freq"] for m in bm]),
        "fft_freq": _median([m["fft_freq"] for m in bm]),
        "snapshot_mb": shape[0] * shape[1] * 4 / 1e6,
    }
    return {"metrics": metrics, "runs": runs, "last": last}


def _strouhal(freq: float, flow: dict[str, Any]) -> float:
    from .lbm import CylinderFlow

    f = CylinderFlow(**flow)
    return freq * f.diameter / f.u_in


def run_repro(out: str | Path, *, quick: bool, seed: int = 0,
              plan: ReproPlan | None = None) -> dict[str, Any]:
    """Run the reproduction and write the results contract into ``out``.

    ``seed`` is recorded only: the simulation is deterministic, and what varies between runs is
    timing, which ``reps`` repetitions (medians) absorb.
    """
    plan = plan if plan is not None else (QUICK_PLAN if quick else FULL_PLAN)
    out = Path(out)
    rec = RunRecorder(out, system="elasticbroker",
                      config={"quick": quick, "seed": seed, **dataclasses.asdict(plan)})
    work = Path(tempfile.mkdtemp(prefix="carbide-eb-repro-"))
    rows: list[dict[str, Any]] = []
    by_ranks: dict[int, dict[str, Any]] = {}
    total = len(plan.ranks) * plan.reps + int(plan.spark) + int(plan.replay)
    with progress() as bar:
        task = bar.add_task("elasticbroker repro", total=total)
        for p in plan.ranks:
            cfg = dataclasses.replace(plan.base, ranks=p, regions=min(p, plan.base.regions))
            res = measure(cfg, reps=plan.reps, out=work / f"p{p}", bar=bar, task=task)
            by_ranks[p] = res
            rows.append({"setting": f"lbm {p} rank(s), local engine", **res["metrics"]})
        spark = None
        if plan.spark:
            cfg = dataclasses.replace(plan.base, ranks=max(plan.ranks),
                                      regions=min(max(plan.ranks), plan.base.regions),
                                      engine="spark")
            spark = run_insitu(cfg, work / "spark")
            rows.append({"setting": f"lbm {cfg.ranks} rank(s), spark engine",
                         **{k: v for k, v in spark["metrics"].items()}})
            bar.advance(task)
        replay = None
        if plan.replay:
            replay = _replay(work / "replay")
            rows.append({"setting": "openfoam replay, 2 ranks", **replay["metrics"]})
            bar.advance(task)

    top = by_ranks[max(plan.ranks)]
    m = top["metrics"]
    flow = plan.base.flow
    st_dmd, st_fft = _strouhal(m["dominant_freq"], flow), _strouhal(m["fft_freq"], flow)
    freq_err = abs(m["dominant_freq"] - m["fft_freq"]) / m["fft_freq"]
    hop_s = plan.base.window_stride * plan.base.every * m["time_per_step_broker_s"]
    metrics = {
        **{k: v for k, v in m.items() if k != "ranks"},
        "ranks": max(plan.ranks),
        "strouhal_dmd": st_dmd, "strouhal_fft": st_fft, "freq_rel_error": freq_err,
        "window_hop_s": hop_s,
        "time_per_step_none_1rank_s": by_ranks[min(plan.ranks)]["metrics"]["time_per_step_none_s"],
    }
    if spark is not None:
        metrics["spark_batch_processing_s_mean"] = spark["metrics"].get(
            "batch_processing_s_mean", float("nan"))
        metrics["spark_batch_processing_s_max"] = spark["metrics"].get(
            "batch_processing_s_max", float("nan"))
        steady = [b["processing_s"] for b in spark["batches"][1:]]  # the first starts workers
        metrics["spark_batch_processing_s_median_steady"] = (
            float(np.median(steady)) if steady else float("nan"))
        metrics["spark_batches"] = len(spark["batches"])
        metrics["spark_dominant_freq"] = spark["metrics"]["dominant_freq"]
        metrics["spark_e2e_latency_p50_s"] = spark["metrics"]["e2e_latency_p50_s"]
    if replay is not None:
        metrics["replay_throughput_mb_s"] = replay["metrics"]["throughput_mb_s"]
        metrics["replay_dmd_error_mean"] = replay["metrics"]["dmd_error_mean"]

    _plots(rec, by_ranks, top, spark, plan)
    claims = [
        Claim("simulation cost of streaming vs writing files",
              "broker output costs less than file output and little over no output",
              f"time/step x{m['slowdown_vs_nowrite']:.3f} vs no output, "
              f"x{m['slowdown_vs_file']:.3f} vs .npy files ({max(plan.ranks)} ranks, analysis "
              f"elsewhere in time); x{m['slowdown_live_vs_nowrite']:.3f} vs no output with the "
              "analysis live on the same cores",
              "2-D LBM on a 2-core laptop; files go to the local page cache (not a parallel "
              "file system); Redis on the same cores",
              holds=m["slowdown_vs_file"] <= 1.0),
        Claim("quality of service: analysis keeps up with the stream",
              "micro-batch analysis within the 3 s trigger",
              f"DMD per window {m['analysis_s_mean']:.3f} s against {hop_s:.2f} s of new data "
              f"per window hop" + (
                  f"; Spark micro-batches {metrics['spark_batch_processing_s_median_steady']:.2f} s"
                  f" median after the first ({metrics['spark_batch_processing_s_mean']:.2f} s "
                  f"mean, {metrics['spark_batch_processing_s_max']:.2f} s max over "
                  f"{metrics['spark_batches']}) vs the {plan.base.trigger_s:.0f} s trigger"
                  if spark is not None else ""),
              "embedded consumer-group engine" + (" and Spark local[2] on the same 2 cores"
                                                  if spark else ""),
              holds=m["analysis_s_mean"] < hop_s and (
                  spark is None
                  or metrics["spark_batch_processing_s_median_steady"] <= plan.base.trigger_s)),
        Claim("DMD gives the wake's physics online",
              "high-quality analytics of the running simulation",
              f"dominant DMD frequency {m['dominant_freq']:.5f} vs probe FFT "
              f"{m['fft_freq']:.5f} per step ({100 * freq_err:.1f}% apart); St {st_dmd:.3f} "
              f"(DMD) / {st_fft:.3f} (FFT)",
              f"cylinder at Re {flow.get('reynolds')}, issue's bar: within 5% and St near 0.2",
              holds=freq_err < 0.05 and 0.15 <= st_dmd <= 0.25),
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
        .heading("Runs")
        .table(rows, cols)
        .image("time_per_step.png", "time per step: no output, files, broker")
        .image("latency.png", "end-to-end latency per snapshot (put -> DMD result)")
        .image("dmd_frequency.png", "dominant DMD frequency per window vs the probe FFT")
    )
    if spark is not None:
        report.image("spark_batches.png", "Spark micro-batch processing time vs the trigger")
    if replay is not None:
        report.heading("OpenFOAM replay").paragraph(
            f"The 20 recorded OpenFOAM snapshots (field {replay['field']}) replayed by 2 ranks "
            f"into 2 region streams; DMD window 10, hop 5, rank 6: "
            f"{replay['metrics']['windows']} windows, mean reconstruction error "
            f"{replay['metrics']['dmd_error_mean']:.4f}, {replay['metrics']['throughput_mb_s']:.2f}"
            " MB/s.").table(replay["windows"], ["region", "window", "first_step",
                                                 "dominant_freq", "error"])
    result = rec.finish(metrics=metrics, rows=rows, report=report)
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return result


def _replay(work: Path) -> dict[str, Any]:
    from .consumer import DMDConsumer
    from .replay import launch_replay
    from .server import EmbeddedRedis

    with EmbeddedRedis() as server:
        summary = launch_replay(ranks=2, field="U:0", endpoints=server.url, out=work, regions=2)
        c = DMDConsumer(server.url, summary["stream_field"], [0, 1], window=10, stride=5,
                        rank=6, time_per_step=summary["dt"])
        results = c.run(timeout_s=120)
        c.close()
    windows = [{"region": r.region, "window": r.window, "first_step": r.steps[0],
                "dominant_freq": r.dominant_freq, "error": r.dmd["error"]} for r in results]
    return {"field": summary["field"], "windows": windows, "metrics": {
        "throughput_mb_s": summary["broker"]["throughput_mb_s"],
        "put_latency_mean_s": summary["broker"]["put_latency_mean_s"],
        "windows": len(results),
        "dmd_error_mean": float(np.mean([w["error"] for w in windows])),
        "e2e_latency_p50_s": float(np.median([x for r in results for x in r.latencies_s])),
    }}


def _plots(rec: RunRecorder, by_ranks: dict[int, dict[str, Any]], top: dict[str, Any],
           spark: dict[str, Any] | None, plan: ReproPlan) -> None:
    fig, ax = subplots(figsize=(6, 3.5))
    ranks = sorted(by_ranks)
    width = 0.2
    for i, (key, label) in enumerate([("none", "no output"), ("file", ".npy files"),
                                      ("broker", "broker (analysis elsewhere)"),
                                      ("broker_live", "broker (analysis live, same cores)")]):
        ys = [1e3 * by_ranks[p]["metrics"][f"time_per_step_{key}_s"] for p in ranks]
        ax.bar(np.arange(len(ranks)) + (i - 1.5) * width, ys, width, label=label)
    ax.set_xticks(np.arange(len(ranks)), [f"{p} rank(s)" for p in ranks])
    ax.set_ylabel("ms per step")
    ax.legend()
    rec.save_figure(fig, "time_per_step.png")

    last = top["last"]
    lat = sorted(x for r in last["results"] for x in r.latencies_s)
    fig, ax = subplots(figsize=(6, 3.5))
    if lat:
        ax.plot(lat, np.arange(1, len(lat) + 1) / len(lat), label="local engine")
    if spark is not None:
        sl = sorted(x for r in spark["results"] for x in r.latencies_s)
        if sl:
            ax.plot(sl, np.arange(1, len(sl) + 1) / len(sl), label="spark engine")
    ax.set_xlabel("end-to-end latency (s)")
    ax.set_ylabel("fraction of snapshots")
    ax.legend()
    rec.save_figure(fig, "latency.png")

    fig, ax = subplots(figsize=(6, 3.5))
    for region in sorted({w["region"] for w in last["windows"]}):
        ws = [w for w in last["windows"] if w["region"] == region]
        ax.plot([w["first_step"] for w in ws], [w["dominant_freq"] for w in ws], "o-",
                label=f"DMD, region {region}")
    ax.axhline(last["metrics"]["fft_freq"], color="k", ls="--", label="probe FFT")
    ax.set_xlabel("window start (step)")
    ax.set_ylabel("frequency (1/step)")
    ax.legend()
    rec.save_figure(fig, "dmd_frequency.png")

    if spark is not None and spark["batches"]:
        fig, ax = subplots(figsize=(6, 3.5))
        b = spark["batches"]
        ax.bar([x["batch_id"] for x in b], [x["processing_s"] for x in b])
        ax.axhline(plan.base.trigger_s, color="k", ls="--", label="trigger")
        ax.set_xlabel("micro-batch")
        ax.set_ylabel("foreachBatch time (s)")
        ax.legend()
        rec.save_figure(fig, "spark_batches.png")

"""``carbide elasticbroker``: stream MPI simulation snapshots to online DMD."""

from __future__ import annotations

import click

from ..results import add_repro_commands

__all__ = ["elasticbroker"]


@click.group()
def elasticbroker() -> None:
    """ElasticBroker (arXiv 2010.04828): MPI simulation -> Redis Streams -> windowed DMD."""


def _flow_options(f):
    for opt in reversed([
        click.option("--nx", type=click.IntRange(min=8), default=200, show_default=True,
                     help="Lattice nodes along the flow."),
        click.option("--ny", type=click.IntRange(min=8), default=50, show_default=True),
        click.option("--radius", type=float, default=5.0, show_default=True),
        click.option("--u-in", type=float, default=0.1, show_default=True,
                     help="Inlet velocity (lattice units)."),
        click.option("--reynolds", type=float, default=100.0, show_default=True),
    ]):
        f = opt(f)
    return f


def _stream_options(f):
    for opt in reversed([
        click.option("--ranks", type=click.IntRange(min=1), default=2, show_default=True,
                     help="MPI ranks (mpiexec -n)."),
        click.option("--steps", type=click.IntRange(min=1), default=3000, show_default=True,
                     help="Streamed steps (after --warmup)."),
        click.option("--warmup", type=click.IntRange(min=0), default=2000, show_default=True,
                     help="Steps run first without output (start-up transient)."),
        click.option("--every", type=click.IntRange(min=1), default=10, show_default=True,
                     help="Snapshot interval in steps."),
        click.option("--regions", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Region streams (ranks grouped contiguously)."),
        click.option("--stride", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Spatial downsampling of each snapshot."),
        click.option("--field", type=click.Choice(["vorticity", "ux", "uy", "rho"]),
                     default="vorticity", show_default=True),
        click.option("--window", type=click.IntRange(min=2), default=100, show_default=True,
                     help="DMD window (snapshots)."),
        click.option("--window-stride", type=click.IntRange(min=1), default=50,
                     show_default=True, help="Snapshots between DMD windows."),
        click.option("--rank", "dmd_rank", type=click.IntRange(min=1), default=8,
                     show_default=True, help="DMD truncation rank."),
        click.option("--endpoints", default=None,
                     help="Redis URL or endpoint file (line i serves rank i); default: an "
                          "embedded redis-server on loopback."),
    ]):
        f = opt(f)
    return _flow_options(f)


def _config(ranks, steps, warmup, every, regions, stride, field, window, window_stride,
            dmd_rank, endpoints, nx, ny, radius, u_in, reynolds, **extra):
    from . import InsituConfig

    return InsituConfig(ranks=ranks, steps=steps, warmup=warmup, every=every, regions=regions,
                        stride=stride, field=field, window=window, window_stride=window_stride,
                        rank=dmd_rank, endpoints=endpoints,
                        flow={"nx": nx, "ny": ny, "radius": radius, "u_in": u_in,
                              "reynolds": reynolds}, **extra)


@elasticbroker.command()
@_stream_options
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local",
              show_default=True, help="Analysis engine: consumer group, or Spark streaming.")
@click.option("--trigger", type=float, default=3.0, show_default=True,
              help="Spark processing-time trigger (s).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
def run(engine, trigger, out, **kw) -> None:
    """Run the MPI cylinder flow with the broker and online DMD; one row per DMD window."""
    from . import record_run

    m = record_run(_config(**kw, engine=engine, trigger_s=trigger), out)["metrics"]
    click.echo(f"{m['windows']} DMD windows; dominant frequency {m['dominant_freq']:.5f} vs "
               f"FFT {m['fft_freq']:.5f}; {m['throughput_mb_s']:.2f} MB/s; e2e latency p50 "
               f"{m['e2e_latency_p50_s']:.2f} s -> {out}/results.json")


@elasticbroker.command()
@click.option("--data", type=click.Choice(["openfoam-buildings"]), default="openfoam-buildings",
              show_default=True)
@click.option("--field", default="U:0", show_default=True,
              help="U:0, U:1, U:2, epsilon, k, nut or p.")
@click.option("--ranks", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--regions", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--window", type=click.IntRange(min=2), default=10, show_default=True)
@click.option("--window-stride", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--rank", "dmd_rank", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--rate", type=float, default=None, help="Snapshots per second (default: max).")
@click.option("--endpoints", default=None, help="Redis URL or endpoint file.")
@click.option("--out", required=True, type=click.Path(file_okay=False))
def replay(data, field, ranks, regions, window, window_stride, dmd_rank, rate, endpoints,
           out) -> None:
    """Replay the recorded OpenFOAM snapshots through the broker into online DMD."""
    from . import ReplayConfig, record_replay

    cfg = ReplayConfig(data=data, field=field, ranks=ranks, regions=regions, window=window,
                       window_stride=window_stride, rank=dmd_rank, rate=rate,
                       endpoints=endpoints)
    m = record_replay(cfg, out)["metrics"]
    click.echo(f"{m['windows']} DMD windows, mean reconstruction error "
               f"{m['dmd_error_mean']:.4f} -> {out}/results.json")


@elasticbroker.command()
@_stream_options
@click.option("--reps", type=click.IntRange(min=1), default=3, show_default=True,
              help="Runs per output mode (medians are reported).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
def bench(reps, out, **kw) -> None:
    """Slowdown vs no output and vs files, throughput vs raw Redis, latency, DMD vs FFT."""
    from . import record_bench

    m = record_bench(_config(**kw), out, reps=reps)["metrics"]
    click.echo(f"slowdown vs no output x{m['slowdown_vs_nowrite']:.3f}, vs files "
               f"x{m['slowdown_vs_file']:.3f} (page cache), "
               f"x{m['slowdown_vs_file_fsync']:.3f} (fsync per step) (analysis live: "
               f"x{m['slowdown_live_vs_nowrite']:.3f}); broker {m['broker_mb_s']:.0f} MB/s vs "
               f"raw Redis {m['raw_redis_mb_s']:.0f} MB/s; e2e p50 "
               f"{m['e2e_latency_p50_s']:.2f} s, p95 {m['e2e_latency_p95_s']:.2f} s; DMD "
               f"{m['dominant_freq']:.5f} vs FFT {m['fft_freq']:.5f} -> {out}/results.json")


add_repro_commands(
    elasticbroker, "elasticbroker",
    help="Slowdown vs no output and files (page cache, fsync), QoS, DMD vs FFT, ranks 1-8, "
         "OpenFOAM replay (+ Spark in the full plan).",
    summary=lambda m: (f"slowdown vs no output x{m['slowdown_vs_nowrite']:.3f}, vs files "
                       f"x{m['slowdown_vs_file']:.3f}; St {m['strouhal_dmd']:.3f} (DMD) vs "
                       f"{m['strouhal_fft']:.3f} (FFT)"))


@elasticbroker.command("stage")
@click.argument("name")
@click.option("--quick", is_flag=True, help="A stage of the quick plan.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The reproduction's folder (the stage goes to OUT/stages/NAME.json).")
@click.option("--root", default=None, type=click.Path(file_okay=False),
              help="Data root (default: $CARBIDE_DATA).")
def stage(name: str, quick: bool, out: str, root: str | None) -> None:
    """Run one stage of the reproduction (ranks<P>, spark or replay; skipped when present);
    `carbide elasticbroker repro --out OUT` then uses every stage it finds."""
    from pathlib import Path

    from . import FULL_PLAN, QUICK_PLAN, run_stage

    path = Path(out) / "stages" / f"{name}.json"
    existed = path.exists()
    run_stage(QUICK_PLAN if quick else FULL_PLAN, name, root=root,
              stages=Path(out) / "stages")
    click.echo(f"{'kept' if existed else 'wrote'} {path}")

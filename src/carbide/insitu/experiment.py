"""One ElasticBroker run end to end, the baselines, and the transport ceiling.

:func:`run_insitu` starts (or connects to) the Redis endpoints, starts the analysis engine
(embedded consumer-group reader or Spark), runs the MPI cylinder flow with the broker as its
output, and gathers what the paper reports: put latency, throughput, end-to-end latency per
snapshot, analysis time per window or micro-batch, and the DMD frequencies beside an FFT of a
probe signal. :func:`run_baselines` times the same simulation with no output and with per-rank
file output; :func:`raw_redis_throughput` and :func:`broker_throughput` measure the transport
alone (a plain pipelined XADD loop, the physical ceiling on this machine, against the broker's
put path with the same payload).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import numpy as np

from .._imports import optional_import
from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError
from ..results import load_average
from .endpoints import read_endpoint_file, region_of
from .keys import BENCH_FIELD, PREFIX, raw_throughput_key, run_keys, stream_key

__all__ = ["ENGINES", "REPLAY_DATA", "WINDOW_COLUMNS", "InsituConfig", "ReplayConfig",
           "broker_throughput", "measure", "raw_redis_throughput", "record_bench",
           "record_replay", "record_run", "run_baselines", "run_insitu", "run_replay",
           "window_row"]

ENGINES = ("local", "spark")


@dataclass(frozen=True)
class InsituConfig:
    """An ElasticBroker run (defaults: a quick laptop-sized run).

    Attributes:
        ranks: MPI ranks of the simulation. steps: streamed steps (after ``warmup``).
        warmup: steps run before streaming starts (the start-up transient, no output).
        every: output interval in steps. regions: region streams. stride: spatial downsampling.
        field: streamed field. window, window_stride: DMD window and hop (in snapshots).
        rank: DMD truncation rank. engine: ``local`` or ``spark``. trigger_s: Spark trigger.
        endpoints: ``None`` for the embedded Redis, else a Redis URL or an endpoint file.
        flow: :class:`~carbide.insitu.lbm.CylinderFlow` fields.
        maxlen, queue_size: broker back-pressure cap and queue bound.
    """

    ranks: int = 2
    steps: int = 3000
    warmup: int = 3000
    every: int = 10
    regions: int = 2
    stride: int = 1
    field: str = "vorticity"
    window: int = 60
    window_stride: int = 30
    rank: int = 8
    engine: str = "local"
    trigger_s: float = 3.0
    endpoints: str | None = None
    flow: dict[str, Any] = dc_field(default_factory=lambda: {
        "nx": 200, "ny": 50, "radius": 5, "u_in": 0.1, "reynolds": 100})
    maxlen: int = 512
    queue_size: int = 16

    def __post_init__(self) -> None:
        for name in ("ranks", "steps", "every", "regions", "stride", "window", "window_stride",
                     "rank", "maxlen", "queue_size"):
            check_int(name, getattr(self, name), 1)
        check_int("warmup", self.warmup, 0)
        check_real("trigger_s", self.trigger_s, 0.0, 3600.0, lo_open=True)
        if self.engine not in ENGINES:
            raise InvalidConfigError(
                f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        region_of(0, self.ranks, self.regions)  # regions <= ranks
        snapshots = self.steps // self.every
        if self.window > snapshots:
            raise InvalidConfigError(
                f"window={self.window} snapshots is longer than the data: steps={self.steps} "
                f"every={self.every} gives {snapshots} snapshots; lower --window or raise --steps")
        if self.rank >= self.window:
            raise InvalidConfigError(
                f"DMD rank {self.rank} must be below the window length {self.window}")
        if self.endpoints is not None and not str(self.endpoints).startswith(
                ("redis://", "rediss://", "unix://")):
            urls = read_endpoint_file(self.endpoints)
            if len(urls) < self.ranks:
                raise InvalidConfigError(
                    f"endpoint file {self.endpoints!r} has {len(urls)} endpoint(s) but there are "
                    f"{self.ranks} ranks; give one endpoint per rank")

    @property
    def snapshots(self) -> int:
        return self.steps // self.every

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def _region_urls(cfg: InsituConfig, default: str) -> dict[int, str]:
    from .endpoints import resolve_endpoints

    urls = resolve_endpoints(cfg.endpoints or default, size=cfg.ranks, regions=cfg.regions)
    return {region_of(r, cfg.ranks, cfg.regions): urls[r] for r in range(cfg.ranks)}


def window_row(res: Any) -> dict[str, Any]:
    """The one table row of an analysed window (a :class:`~.assembly.WindowResult`)."""
    return {"region": res.region, "window": res.window, "first_step": res.steps[0],
            "last_step": res.steps[-1], "dominant_freq": res.dominant_freq,
            "analysis_s": res.analysis_s, "error": res.dmd.get("error"),
            "latency_max_s": max(res.latencies_s) if res.latencies_s else None}


def _check_run(cfg: InsituConfig, defer_analysis: bool) -> None:
    """Everything that can be wrong with a run, checked before any server starts or any
    stream is deleted."""
    if cfg.engine not in ENGINES:  # a config built around __post_init__
        raise InvalidConfigError(
            f"engine must be one of {', '.join(ENGINES)}, got {cfg.engine!r}")
    if defer_analysis and cfg.engine != "local":
        raise InvalidConfigError("defer_analysis needs the local engine; got engine="
                                 f"{cfg.engine!r}")
    optional_import("redis", "insitu")
    if cfg.engine == "spark":
        from .spark import check_spark

        if cfg.endpoints is not None and len(set(_region_urls(cfg, "").values())) > 1:
            raise InvalidConfigError("the Spark engine reads one endpoint; give every rank "
                                     "the same endpoint or use --engine local")
        check_spark()


def _fresh_streams(urls: set[str], field: str, regions: list[int], prefix: str) -> None:
    """Delete a previous run's keys: its entries must not leak into this one."""
    redis = optional_import("redis", "insitu")
    for url in urls:
        c = redis.Redis.from_url(url)
        try:
            c.delete(*run_keys(field, regions, prefix=prefix))
        finally:
            c.close()


def _run_local(cfg: InsituConfig, by_region: dict[int, str], sim_kwargs: dict[str, Any],
               window_kw: dict[str, Any], *, prefix: str, timeout_s: float,
               defer_analysis: bool) -> tuple[dict[str, Any], list[Any]]:
    from .consumer import DMDConsumer
    from .simulate import launch_simulation

    regions = sorted(by_region)
    consumers: list[DMDConsumer] = []
    threads: list[threading.Thread] = []
    stop = threading.Event()
    try:
        for i, url in enumerate(sorted(set(by_region.values()))):
            consumers.append(DMDConsumer(url, cfg.field,
                                         [r for r in regions if by_region[r] == url],
                                         name=f"consumer-{i}", prefix=prefix, **window_kw))
        errors: list[BaseException] = []

        def consume(c: DMDConsumer) -> None:
            try:
                c.run(timeout_s=timeout_s, stop=stop)
            except BaseException as exc:  # re-raised in the main thread below
                errors.append(exc)

        threads += [threading.Thread(target=consume, args=(c,), daemon=True) for c in consumers]
        if defer_analysis:
            sim = launch_simulation(**sim_kwargs, timeout_s=timeout_s)
        for t in threads:
            t.start()
        if not defer_analysis:
            sim = launch_simulation(**sim_kwargs, timeout_s=timeout_s)
        for t in threads:
            t.join(timeout_s)
        if errors:
            raise errors[0]
        return sim, [r for c in consumers for r in c.results]
    finally:
        stop.set()  # on an error path the consumers must not poll on
        for t in threads:
            if t.is_alive():
                t.join(10)
        for c in consumers:
            c.close()


def _run_spark(cfg: InsituConfig, endpoint: str, regions: list[int], sim_kwargs: dict[str, Any],
               window_kw: dict[str, Any], out: Path, *, prefix: str,
               timeout_s: float) -> tuple[dict[str, Any], list[Any], list[dict[str, Any]]]:
    from .simulate import finish_simulation, launch_simulation
    from .spark import run_spark_engine

    holder: dict[str, Any] = {}

    def start_sim() -> None:
        holder["proc"] = launch_simulation(**sim_kwargs, wait=False)

    def sim_failed() -> None:
        proc = holder.get("proc")
        if proc is not None and proc.poll() not in (None, 0):
            finish_simulation(proc, out / "sim-broker.json")  # raises with its stderr

    try:
        run = run_spark_engine(endpoint, cfg.field, regions, trigger_s=cfg.trigger_s,
                               timeout_s=timeout_s, prefix=prefix, on_ready=start_sim,
                               check=sim_failed, **window_kw)
        sim = finish_simulation(holder["proc"], out / "sim-broker.json", timeout_s=timeout_s)
    finally:
        proc = holder.get("proc")
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
    return sim, run.results, run.batches


def run_insitu(cfg: InsituConfig, out: str | Path, *, prefix: str = PREFIX,
               timeout_s: float = 1800, defer_analysis: bool = False,
               state: str | Path | None = None) -> dict[str, Any]:
    """Run the broker + analysis pipeline once (see the module docstring).

    The configuration (engine, endpoints, Spark's runtime) is checked before the embedded
    Redis starts or any stream is deleted; the consumers are closed and the server stopped on
    every path, errors included.

    With ``defer_analysis=True`` (local engine only) the analysis starts after the simulation
    ends and the streams hold every snapshot meanwhile: the simulation then pays only for the
    broker, as when the analysis runs on other machines (the paper's cloud). On one small
    machine a live analysis competes with the simulation for the same cores, which is a
    different cost; measure both. ``state``: a :func:`~.simulate.warm_state` file the ranks
    start from instead of running ``cfg.warmup`` steps.

    Returns:
        ``{"sim": simulation summary, "broker": BrokerStats dict, "windows": [per window],
        "batches": [Spark micro-batches], "metrics": {...}}`` with metrics
        ``throughput_mb_s``, ``put_latency_mean_s``, ``put_latency_std_s``,
        ``e2e_latency_p50_s``, ``e2e_latency_p95_s`` (put -> first result covering the
        snapshot, so it includes the wait for the window to fill), ``result_lag_p50_s`` (newest
        snapshot of a window -> its result), ``analysis_s_mean``, ``dominant_freq``,
        ``fft_freq``, ``time_per_step_s``, ``windows``.
    """
    from .dmd import fft_frequency
    from .server import EmbeddedRedis

    _check_run(cfg, defer_analysis)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    server = None
    if cfg.endpoints is None:
        server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="carbide-eb-"))).start()
        endpoints = server.url
    else:
        endpoints = cfg.endpoints
    try:
        by_region = _region_urls(cfg, endpoints)
        regions = sorted(by_region)
        _fresh_streams(set(by_region.values()), cfg.field, regions, prefix)
        # deferred: room for the whole run in each stream, so back-pressure never binds
        maxlen = cfg.ranks * (cfg.snapshots + 2) if defer_analysis else cfg.maxlen
        sim_kwargs = dict(ranks=cfg.ranks, steps=cfg.steps, warmup=cfg.warmup, every=cfg.every,
                          output="broker", out=out, flow=cfg.flow, field=cfg.field,
                          endpoints=endpoints, regions=cfg.regions, stride=cfg.stride,
                          maxlen=maxlen, queue_size=cfg.queue_size, state=state)
        window_kw = dict(window=cfg.window, stride=cfg.window_stride, rank=cfg.rank)
        batches: list[dict[str, Any]] = []
        if cfg.engine == "local":
            sim, results = _run_local(cfg, by_region, sim_kwargs, window_kw, prefix=prefix,
                                      timeout_s=timeout_s, defer_analysis=defer_analysis)
        else:
            sim, results, batches = _run_spark(cfg, by_region[regions[0]], regions,
                                               sim_kwargs, window_kw, out, prefix=prefix,
                                               timeout_s=timeout_s)
    finally:
        if server is not None:
            server.close()

    results.sort(key=lambda r: (r.region, r.window))
    latencies = [x for r in results for x in r.latencies_s]
    lags = [r.finished_ts - r.produced_ts for r in results]
    freqs = [r.dominant_freq for r in results if np.isfinite(r.dominant_freq)]
    signal = np.asarray(sim["probe_signal"])
    fft = fft_frequency(signal - signal.mean(), 1.0)
    b = sim["broker"]
    metrics = {
        "throughput_mb_s": b["throughput_mb_s"],
        "put_latency_mean_s": b["put_latency_mean_s"],
        "put_latency_std_s": b["put_latency_std_s"],
        "e2e_latency_p50_s": _percentile(latencies, 50),
        "e2e_latency_p95_s": _percentile(latencies, 95),
        "result_lag_p50_s": _percentile(lags, 50),
        "analysis_s_mean": statistics.fmean(r.analysis_s for r in results) if results else 0.0,
        "dominant_freq": float(np.median(freqs)) if freqs else float("nan"),
        "fft_freq": float(fft),
        "time_per_step_s": sim["time_per_step_s"],
        "windows": len(results),
        "snapshots_analysed": len(latencies),
    }
    if batches:
        metrics["batch_processing_s_mean"] = statistics.fmean(x["processing_s"] for x in batches)
        metrics["batch_processing_s_max"] = max(x["processing_s"] for x in batches)
    return {"sim": sim, "broker": b, "windows": [window_row(r) for r in results],
            "batches": batches, "metrics": metrics, "results": results}


def run_baselines(cfg: InsituConfig, out: str | Path, *,
                  outputs: tuple[str, ...] = ("none", "file", "file_fsync"),
                  state: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The same simulation with no output and with per-rank ``.npy`` file output, into the
    page cache (``file``) and ``fsync``-ed per output step (``file_fsync``)."""
    from .simulate import launch_simulation

    runs = {}
    for output in outputs:
        runs[output] = launch_simulation(ranks=cfg.ranks, steps=cfg.steps, warmup=cfg.warmup,
                                         every=cfg.every, output=output, out=Path(out),
                                         flow=cfg.flow, field=cfg.field, state=state)
        if output.startswith("file"):  # the next run must not pay for this one's files
            import shutil

            shutil.rmtree(Path(out) / f"files-{output}", ignore_errors=True)
    return runs


def raw_redis_throughput(url: str, *, nbytes: int, count: int = 200,
                         batch: int = 4) -> float:
    """MB/s of a plain pipelined XADD loop of ``count`` payloads of ``nbytes`` (the ceiling)."""
    redis = optional_import("redis", "insitu")
    client = redis.Redis.from_url(url)
    payload = np.random.default_rng(0).random(nbytes // 4, dtype=np.float32).tobytes()
    key = raw_throughput_key()
    client.delete(key)
    t = time.perf_counter()
    for i in range(0, count, batch):
        pipe = client.pipeline(transaction=False)
        for j in range(i, min(i + batch, count)):
            pipe.xadd(key, {"step": str(j), "data": payload})
        pipe.execute()
    elapsed = time.perf_counter() - t
    client.delete(key)
    client.close()
    return count * len(payload) / elapsed / 1e6


def broker_throughput(url: str, *, shape: tuple[int, ...], count: int = 200) -> float:
    """MB/s of :class:`~carbide.insitu.broker.Broker` puts of a ``shape`` float32 array, the
    same payload and pipelining as :func:`raw_redis_throughput` (the cap is set above
    ``count``, so back-pressure does not bind)."""
    from .broker import Broker

    redis = optional_import("redis", "insitu")
    client = redis.Redis.from_url(url)
    key = stream_key(BENCH_FIELD, 0)
    client.delete(key)
    data = np.random.default_rng(0).random(shape, dtype=np.float32)
    broker = Broker(BENCH_FIELD, endpoints=url, maxlen=count + 8, batch=4)
    for step in range(count):
        broker.put(step, data)
    stats = broker.finalize()
    client.delete(key)
    client.close()
    return stats.throughput_mb_s


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def measure(cfg: InsituConfig, *, reps: int = 1, out: str | Path | None = None,
            on_rep: Any = None) -> dict[str, Any]:
    """Time the simulation with no output, file output (page cache and ``fsync`` per step)
    and the broker (``reps`` runs each, interleaved, medians), and the transport ceiling; the
    ``carbide elasticbroker bench`` metrics.

    The warm-up (``cfg.warmup`` steps) runs once, serially, into a
    :func:`~.simulate.warm_state` file (kept in the temporary folder, keyed by flow and
    warm-up, so every rank count reuses it) that every run starts from. The broker runs twice per
    repetition: with the analysis deferred until the simulation ends (``broker``: what the
    simulation pays for streaming when the analysis runs elsewhere, the paper's setting;
    ``slowdown_vs_*`` use it) and with the analysis live on the same machine (``broker_live``:
    end-to-end latencies come from it; ``slowdown_live_vs_nowrite``). ``on_rep`` is called
    after each repetition (progress).

    Returns:
        ``{"metrics": {...}, "runs": {"none": [...], "file": [...], "file_fsync": [...],
        "broker": [...], "broker_live": [...]}, "last": the last live broker run (see
        :func:`~carbide.insitu.experiment.run_insitu`)}``. Metrics include per-step times and
        slowdowns of every mode, ``mlups_*`` (million lattice-node updates per second: the
        simulation's throughput), ``throughput_mb_s`` (broker MB/s over all ranks),
        ``put_latency_mean_s`` (simulation side) and the end-to-end latencies.
    """
    from .server import EmbeddedRedis
    from .simulate import warm_state

    work = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="carbide-eb-bench-"))
    state = None
    if cfg.warmup:  # one warm state per flow and warm-up, shared by every rank count
        import hashlib
        import json

        key = hashlib.sha256(json.dumps([cfg.flow, cfg.warmup], sort_keys=True).encode())
        state = Path(tempfile.gettempdir()) / f"carbide-eb-warm-{key.hexdigest()[:16]}.npz"
        if not state.exists():
            warm_state(cfg.flow, cfg.warmup, state)
    runs: dict[str, list[dict[str, Any]]] = {"none": [], "file": [], "file_fsync": [],
                                             "broker": [], "broker_live": []}
    last = None
    for rep in range(reps):
        base = run_baselines(cfg, work / f"rep{rep}", state=state)
        for k, v in base.items():
            runs[k].append(v)
        deferred = run_insitu(cfg, work / f"rep{rep}", defer_analysis=True, state=state)
        runs["broker"].append({**deferred["sim"], "metrics": deferred["metrics"]})
        last = run_insitu(cfg, work / f"rep{rep}", state=state)
        runs["broker_live"].append({**last["sim"], "metrics": last["metrics"]})
        if on_rep is not None:
            on_rep()
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
    nodes = nx * ny / 1e6
    metrics = {
        "ranks": cfg.ranks,
        **{f"time_per_step_{k}_s": v for k, v in per_step.items()},
        **{f"mlups_{k}": nodes / v for k, v in per_step.items()},
        "slowdown_vs_nowrite": per_step["broker"] / per_step["none"],
        "slowdown_vs_file": per_step["broker"] / per_step["file"],
        "slowdown_vs_file_fsync": per_step["broker"] / per_step["file_fsync"],
        "slowdown_live_vs_nowrite": per_step["broker_live"] / per_step["none"],
        "file_slowdown_vs_nowrite": per_step["file"] / per_step["none"],
        "file_fsync_slowdown_vs_nowrite": per_step["file_fsync"] / per_step["none"],
        "throughput_mb_s": _median([m["throughput_mb_s"] for m in bd]),
        "throughput_live_mb_s": _median([m["throughput_mb_s"] for m in bm]),
        "broker_mb_s": put,
        "raw_redis_mb_s": raw,
        "put_latency_mean_s": _median([m["put_latency_mean_s"] for m in bd]),
        "put_latency_live_mean_s": _median([m["put_latency_mean_s"] for m in bm]),
        "e2e_latency_p50_s": _median([m["e2e_latency_p50_s"] for m in bm]),
        "e2e_latency_p95_s": _median([m["e2e_latency_p95_s"] for m in bm]),
        "result_lag_p50_s": _median([m["result_lag_p50_s"] for m in bm]),
        "analysis_s_mean": _median([m["analysis_s_mean"] for m in bm]),
        "dominant_freq": _median([m["dominant_freq"] for m in bm]),
        "fft_freq": _median([m["fft_freq"] for m in bm]),
        "snapshot_mb": shape[0] * shape[1] * 4 / 1e6,
        "reps": reps,
        "loadavg": (load_average() or [None])[0],
        "cpus": os.cpu_count(),
    }
    return {"metrics": metrics, "runs": runs, "last": last}




@dataclass(frozen=True)
class ReplayConfig:
    """A replay of the recorded OpenFOAM run through the broker into online DMD.

    Attributes:
        data: the recorded data set (``openfoam-buildings``: 20 snapshots).
        field: ``U:0``, ``U:1``, ``U:2``, ``epsilon``, ``k``, ``nut`` or ``p``.
        ranks, regions: MPI ranks of the replay and region streams.
        window, window_stride, rank: DMD window, hop (snapshots) and truncation rank.
        rate: snapshots per second (``None``: as fast as possible).
        endpoints: ``None`` for the embedded Redis, else one Redis URL or an endpoint file
            whose lines are all the same endpoint (one consumer analyses it).
        timeout_s: give up the analysis after this long.
    """

    data: str = "openfoam-buildings"
    field: str = "U:0"
    ranks: int = 2
    regions: int = 2
    window: int = 10
    window_stride: int = 5
    rank: int = 6
    rate: float | None = None
    endpoints: str | None = None
    timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if self.data not in REPLAY_DATA:
            raise InvalidConfigError(
                f"data must be one of {', '.join(REPLAY_DATA)}, got {self.data!r}")
        for name in ("ranks", "regions", "window_stride", "rank"):
            check_int(name, getattr(self, name), 1)
        check_int("window", self.window, 2)
        snapshots = REPLAY_DATA[self.data]
        if self.window > snapshots:
            raise InvalidConfigError(f"window {self.window} is longer than the data: the "
                                     f"{self.data} case has {snapshots} snapshots")
        if self.rank >= self.window:
            raise InvalidConfigError(
                f"DMD rank {self.rank} must be below the window length {self.window}")
        if self.rate is not None:
            check_real("rate", self.rate, 0.0, 1e6, lo_open=True)
        check_real("timeout_s", self.timeout_s, 0.0, 1e6, lo_open=True)
        region_of(0, self.ranks, self.regions)  # regions <= ranks
        if self.endpoints is not None and not str(self.endpoints).startswith(
                ("redis://", "rediss://", "unix://")):
            from .endpoints import resolve_endpoints

            urls = resolve_endpoints(self.endpoints, size=self.ranks, regions=self.regions)
            if len(set(urls)) > 1:
                raise InvalidConfigError(
                    f"endpoint file {self.endpoints!r} names {len(set(urls))} endpoints; a "
                    "replay analyses one: give every rank the same")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Recorded runs :class:`ReplayConfig` replays, and their snapshot counts.
REPLAY_DATA = {"openfoam-buildings": 20}


def run_replay(cfg: ReplayConfig, out: str | Path, *,
               root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Replay the recorded snapshots through the broker and analyse them online.

    Starts the embedded Redis (unless ``cfg.endpoints`` names one), replays on ``cfg.ranks``
    MPI processes into ``cfg.regions`` region streams, runs one :class:`~.consumer.DMDConsumer`
    on them, and stops the server and closes the consumer on every path.

    Returns:
        ``{"summary": the replay's summary, "windows": [window rows], "results": [...],
        "metrics": {"windows", "throughput_mb_s", "put_latency_mean_s", "dmd_error_mean",
        "e2e_latency_p50_s"}}``.
    """
    from .consumer import DMDConsumer
    from .endpoints import resolve_endpoints
    from .replay import launch_replay
    from .server import EmbeddedRedis

    optional_import("redis", "insitu")
    out = Path(out)
    server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="carbide-eb-"))).start() \
        if cfg.endpoints is None else None
    url = server.url if server is not None else str(cfg.endpoints)
    consumer = None
    try:
        summary = launch_replay(ranks=cfg.ranks, field=cfg.field, endpoints=url, out=out,
                                regions=cfg.regions, rate_hz=cfg.rate,
                                root=None if root is None else str(root))
        consumer_url = url if url.startswith(("redis://", "rediss://", "unix://")) else \
            resolve_endpoints(url, size=cfg.ranks, regions=cfg.regions)[0]
        consumer = DMDConsumer(consumer_url, summary["stream_field"], list(range(cfg.regions)),
                               window=cfg.window, stride=cfg.window_stride, rank=cfg.rank,
                               time_per_step=summary["dt"])
        results = consumer.run(timeout_s=cfg.timeout_s)
    finally:
        if consumer is not None:
            consumer.close()
        if server is not None:
            server.close()
    windows = [window_row(r) for r in results]
    errors = [w["error"] for w in windows if w["error"] is not None]
    latencies = [x for r in results for x in r.latencies_s]
    metrics = {
        "windows": len(windows),
        "throughput_mb_s": summary["broker"]["throughput_mb_s"],
        "put_latency_mean_s": summary["broker"]["put_latency_mean_s"],
        "dmd_error_mean": statistics.fmean(errors) if errors else float("nan"),
        "e2e_latency_p50_s": _percentile(latencies, 50),
    }
    return {"summary": summary, "windows": windows, "results": results, "metrics": metrics}


# ------------------------------------------------------------------ run records (the CLI's)


def record_run(cfg: InsituConfig, out: str | Path) -> dict[str, Any]:
    """``carbide elasticbroker run``: :func:`run_insitu` written as a run record into ``out``
    (metrics as :func:`run_insitu` returns them; one row per DMD window)."""
    from ..results import Report, RunRecorder

    rec = RunRecorder(out, system="elasticbroker", config=cfg.to_dict())
    res = run_insitu(cfg, rec.out / "work")
    m = res["metrics"]
    report = (Report(f"ElasticBroker run: {cfg.ranks} ranks, {cfg.engine} engine")
              .table([m], list(m)).table(res["windows"], WINDOW_COLUMNS))
    return rec.finish(metrics=m, rows=res["windows"], report=report)


def record_replay(cfg: ReplayConfig, out: str | Path, *,
                  root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``carbide elasticbroker replay``: :func:`run_replay` written as a run record."""
    from ..results import Report, RunRecorder

    rec = RunRecorder(out, system="elasticbroker", config=cfg.to_dict())
    res = run_replay(cfg, rec.out / "work", root=root)
    report = (Report(f"OpenFOAM replay ({cfg.field})").table([res["metrics"]])
              .table(res["windows"], WINDOW_COLUMNS))
    return rec.finish(metrics=res["metrics"], rows=res["windows"], report=report)


def record_bench(cfg: InsituConfig, out: str | Path, *, reps: int = 3) -> dict[str, Any]:
    """``carbide elasticbroker bench``: :func:`measure` written as a run record (one row per
    output mode and repetition)."""
    from ..results import Report, RunRecorder

    check_int("reps", reps, 1)
    rec = RunRecorder(out, system="elasticbroker", config={**cfg.to_dict(), "reps": reps})
    res = measure(cfg, reps=reps, out=rec.out / "work")
    m = res["metrics"]
    rows = [{"output": k, "rep": i, "time_per_step_s": r["time_per_step_s"]}
            for k, v in res["runs"].items() for i, r in enumerate(v)]
    report = (Report("ElasticBroker bench").table([m], list(m))
              .table(rows, ["output", "rep", "time_per_step_s"]))
    return rec.finish(metrics=m, rows=rows, report=report)


#: Columns of the per-window tables.
WINDOW_COLUMNS = ["region", "window", "first_step", "last_step", "dominant_freq", "error",
                  "analysis_s", "latency_max_s"]

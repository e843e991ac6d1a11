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
from .endpoints import read_endpoint_file, region_of

__all__ = ["ENGINES", "InsituConfig", "broker_throughput", "raw_redis_throughput",
           "run_baselines", "run_insitu"]

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


def run_insitu(cfg: InsituConfig, out: str | Path, *, prefix: str = "carbide",
               timeout_s: float = 1800, defer_analysis: bool = False) -> dict[str, Any]:
    """Run the broker + analysis pipeline once (see the module docstring).

    With ``defer_analysis=True`` (local engine only) the analysis starts after the simulation
    ends and the streams hold every snapshot meanwhile: the simulation then pays only for the
    broker, as when the analysis runs on other machines (the paper's cloud). On one small
    machine a live analysis competes with the simulation for the same cores, which is a
    different cost; measure both.

    Returns:
        ``{"sim": simulation summary, "broker": BrokerStats dict, "windows": [per window],
        "batches": [Spark micro-batches], "metrics": {...}}`` with metrics
        ``throughput_mb_s``, ``put_latency_mean_s``, ``put_latency_std_s``,
        ``e2e_latency_p50_s``, ``e2e_latency_p95_s`` (put -> first result covering the
        snapshot, so it includes the wait for the window to fill), ``result_lag_p50_s`` (newest
        snapshot of a window -> its result), ``analysis_s_mean``, ``dominant_freq``,
        ``fft_freq``, ``time_per_step_s``, ``windows``.
    """
    from .consumer import DMDConsumer
    from .dmd import fft_frequency
    from .server import EmbeddedRedis
    from .simulate import finish_simulation, launch_simulation

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
        # Fresh streams: a previous run's entries must not leak into this one.
        redis = optional_import("redis", "insitu")
        for url in set(by_region.values()):
            c = redis.Redis.from_url(url)
            c.delete(*[f"{prefix}:{cfg.field}:{r}" for r in regions],
                     f"{prefix}:{cfg.field}:dmd", f"{prefix}:{cfg.field}:progress")
            c.close()
        if defer_analysis and cfg.engine != "local":
            raise InvalidConfigError("defer_analysis needs the local engine")
        # deferred: room for the whole run in each stream, so back-pressure never binds
        maxlen = cfg.ranks * (cfg.snapshots + 2) if defer_analysis else cfg.maxlen
        sim_kwargs = dict(ranks=cfg.ranks, steps=cfg.steps, warmup=cfg.warmup, every=cfg.every,
                          output="broker", out=out, flow=cfg.flow, field=cfg.field,
                          endpoints=endpoints, regions=cfg.regions, stride=cfg.stride,
                          maxlen=maxlen, queue_size=cfg.queue_size)
        window_kw = dict(window=cfg.window, stride=cfg.window_stride, rank=cfg.rank)
        batches: list[dict[str, Any]] = []
        if cfg.engine == "local":
            consumers = [DMDConsumer(url, cfg.field, [r for r in regions if by_region[r] == url],
                                     name=f"consumer-{i}", prefix=prefix, **window_kw)
                         for i, url in enumerate(sorted(set(by_region.values())))]
            errors: list[BaseException] = []

            def consume(c: DMDConsumer) -> None:
                try:
                    c.run(timeout_s=timeout_s)
                except BaseException as exc:  # re-raised in the main thread below
                    errors.append(exc)

            threads = [threading.Thread(target=consume, args=(c,), daemon=True)
                       for c in consumers]
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
            results = [r for c in consumers for r in c.results]
            for c in consumers:
                c.close()
        else:
            from .spark import run_spark_engine

            if len(set(by_region.values())) > 1:
                raise InvalidConfigError("the Spark engine reads one endpoint; give every rank "
                                         "the same endpoint or use --engine local")
            holder: dict[str, Any] = {}

            def start_sim() -> None:
                holder["proc"] = launch_simulation(**sim_kwargs, wait=False)

            def sim_failed() -> None:
                proc = holder.get("proc")
                if proc is not None and proc.poll() not in (None, 0):
                    finish_simulation(proc, out / "sim-broker.json")  # raises with its stderr

            run = run_spark_engine(endpoints, cfg.field, regions, trigger_s=cfg.trigger_s,
                                   timeout_s=timeout_s, prefix=prefix, on_ready=start_sim,
                                   check=sim_failed, **window_kw)
            sim = finish_simulation(holder["proc"], out / "sim-broker.json", timeout_s=timeout_s)
            results, batches = run.results, run.batches
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
    windows = [{"region": r.region, "window": r.window, "first_step": r.steps[0],
                "last_step": r.steps[-1], "dominant_freq": r.dominant_freq,
                "analysis_s": r.analysis_s, "error": r.dmd.get("error"),
                "latency_max_s": max(r.latencies_s) if r.latencies_s else None}
               for r in results]
    return {"sim": sim, "broker": b, "windows": windows, "batches": batches,
            "metrics": metrics, "results": results}


def run_baselines(cfg: InsituConfig, out: str | Path) -> dict[str, dict[str, Any]]:
    """The same simulation with no output and with per-rank ``.npy`` file output."""
    from .simulate import launch_simulation

    runs = {}
    for output in ("none", "file"):
        runs[output] = launch_simulation(ranks=cfg.ranks, steps=cfg.steps, warmup=cfg.warmup,
                                         every=cfg.every, output=output, out=Path(out),
                                         flow=cfg.flow, field=cfg.field)
    return runs


def raw_redis_throughput(url: str, *, nbytes: int, count: int = 200,
                         batch: int = 4) -> float:
    """MB/s of a plain pipelined XADD loop of ``count`` payloads of ``nbytes`` (the ceiling)."""
    redis = optional_import("redis", "insitu")
    client = redis.Redis.from_url(url)
    payload = np.random.default_rng(0).random(nbytes // 4, dtype=np.float32).tobytes()
    key = "carbide:raw-throughput"
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
    client.delete("carbide:bench:0")
    data = np.random.default_rng(0).random(shape, dtype=np.float32)
    broker = Broker("bench", endpoints=url, maxlen=count + 8, batch=4)
    for step in range(count):
        broker.put(step, data)
    stats = broker.finalize()
    client.delete("carbide:bench:0")
    client.close()
    return stats.throughput_mb_s

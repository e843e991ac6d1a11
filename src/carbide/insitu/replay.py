"""Replay producer: stream recorded simulation snapshots through the broker.

The paper's producer is a parallel OpenFOAM run. :func:`replay_snapshots` plays a recorded run
(``../shared/data/openfoam-buildings``: 20 snapshots x 7,219 points x 7 fields, loaded by
:func:`carbide.datasets.load_openfoam_buildings`) back through the same
:class:`~carbide.insitu.broker.Broker` path: each MPI rank owns a contiguous block of points (the
decomposition an OpenFOAM run would have) and puts its block of one field per snapshot.
:func:`launch_replay` runs it under ``mpiexec``; with ``ranks=1`` it needs no MPI at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError

__all__ = ["launch_replay", "replay_snapshots", "stream_field_name"]


def stream_field_name(field: str) -> str:
    """The stream name of a dataset field (``"U:0"`` -> ``"U0"``; ``:`` separates key parts)."""
    return field.replace(":", "")


def replay_snapshots(values: np.ndarray, times: np.ndarray, *, field: str, endpoints: str,
                     comm: Any = None, regions: int = 1, rate_hz: float | None = None,
                     **broker_kwargs: Any) -> dict[str, Any]:
    """Put this rank's block of every snapshot, in time order.

    Args:
        values: ``(T, n_points)`` one field's values per snapshot.
        times: ``(T,)`` snapshot times (evenly spaced; the step is their index).
        field: stream field name.
        endpoints: Redis URL or endpoint file.
        comm: mpi4py communicator (``None``: one rank).
        regions: region streams.
        rate_hz: snapshots per second to pace the replay (``None``: as fast as possible).
        broker_kwargs: passed to :class:`~carbide.insitu.broker.Broker`.

    Returns:
        ``{"broker": BrokerStats dict, "points": [lo, hi), "dt": snapshot spacing}``.
    """
    from .broker import Broker

    values = np.asarray(values)
    times = np.asarray(times, dtype=np.float64)
    if values.ndim != 2 or times.shape != (values.shape[0],):
        raise InvalidConfigError(
            f"values must be (T, n_points) and times (T,); got {values.shape} and {times.shape}")
    gaps = np.diff(times)
    if len(gaps) and (np.any(gaps <= 0) or not np.allclose(gaps, gaps[0], rtol=1e-6)):
        raise InvalidConfigError("snapshot times must increase evenly for DMD; got "
                                 f"{times.tolist()}")
    if rate_hz is not None:
        check_real("rate_hz", rate_hz, 0.0, 1e6, lo_open=True)
    rank = 0 if comm is None else comm.Get_rank()
    size = 1 if comm is None else comm.Get_size()
    n = values.shape[1]
    if n < size:
        raise InvalidConfigError(f"{n} points cannot be split over {size} ranks")
    bounds = np.linspace(0, n, size + 1).astype(int)
    lo, hi = int(bounds[rank]), int(bounds[rank + 1])
    broker = Broker(field, comm, endpoints=endpoints, regions=regions, **broker_kwargs)
    t0 = time.perf_counter()
    with broker:
        for k in range(values.shape[0]):
            if rate_hz is not None:
                time.sleep(max(0.0, t0 + k / rate_hz - time.perf_counter()))
            broker.put(k, values[k, lo:hi])
        stats = broker.finalize()
    return {"broker": stats.to_dict(), "points": [lo, hi],
            "dt": float(gaps[0]) if len(gaps) else 0.0}


def launch_replay(*, ranks: int, field: str = "U:0", endpoints: str, out: str | Path,
                  regions: int = 1, rate_hz: float | None = None, root: str | None = None,
                  timeout_s: float = 600) -> dict[str, Any]:
    """Replay the OpenFOAM buildings snapshots on ``ranks`` MPI processes.

    Args:
        ranks: MPI processes. field: one of the dataset's fields (``U:0``, ``U:1``, ``U:2``,
            ``epsilon``, ``k``, ``nut``, ``p``). endpoints: Redis URL or endpoint file.
        out: directory for ``replay.json`` (rank 0's summary).
        regions: region streams. rate_hz: pacing. root: data root (default ``$CARBIDE_DATA``).

    Returns:
        The summary: ``{"broker", "dt", "snapshots", "points", "field", "stream_field"}``.
    """
    from .simulate import finish_simulation, mpiexec_path

    check_int("ranks", ranks, 1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "replay.json"
    if summary.exists():
        summary.unlink()
    args = {"field": field, "endpoints": endpoints, "out": str(out), "regions": regions,
            "rate_hz": rate_hz, "root": root}
    cmd = [mpiexec_path(), "-n", str(ranks), sys.executable, "-m", "carbide.insitu.replay",
           "--args", json.dumps(args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    return finish_simulation(proc, summary, timeout_s=timeout_s)


def _main(argv: list[str] | None = None) -> None:
    import argparse

    from mpi4py import MPI

    from ..datasets import load_openfoam_buildings

    parser = argparse.ArgumentParser(prog="python -m carbide.insitu.replay")
    parser.add_argument("--args", required=True)
    a = json.loads(parser.parse_args(argv).args)
    comm = MPI.COMM_WORLD
    snaps = load_openfoam_buildings(a["root"])
    if a["field"] not in snaps.fields:
        raise InvalidConfigError(
            f"field {a['field']!r} is not in the OpenFOAM data; choose one of {snaps.fields}")
    values = snaps.values[:, :, snaps.fields.index(a["field"])]
    res = replay_snapshots(values, snaps.times, field=stream_field_name(a["field"]),
                           endpoints=a["endpoints"], comm=comm, regions=a["regions"],
                           rate_hz=a["rate_hz"])
    if comm.Get_rank() == 0:
        res.update(snapshots=int(values.shape[0]), n_points=int(values.shape[1]),
                   field=a["field"], stream_field=stream_field_name(a["field"]))
        path = Path(a["out"]) / "replay.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(res))
        tmp.replace(path)


if __name__ == "__main__":
    _main()

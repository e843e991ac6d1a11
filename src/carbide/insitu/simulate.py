"""Run the MPI cylinder-flow producer with one of three outputs, under ``mpiexec``.

The paper compares a simulation that writes nothing, one that writes its snapshots to files for
later analysis, and one that hands them to the broker. :func:`launch_simulation` runs exactly
that comparison's producer side: ``mpiexec -n P python -m carbide.insitu.simulate ...`` (mpich
from the ``mpich`` wheel, so no system MPI is needed); every rank runs
:func:`carbide.insitu.lbm.run_cylinder` with the chosen sink, and rank 0 writes a JSON summary.

Outputs (``output=``):

- ``none``: no output (the baseline the slowdown is measured against);
- ``file``: each rank writes its slab as ``.npy`` every ``every`` steps
  (``<dir>/rank<r>/step<s>.npy``, the per-rank file output of an HPC code) into the page
  cache: the kernel writes it back later, so this is a lower bound on the cost of files;
- ``file_fsync``: the same files, each ``fsync``-ed before the step goes on (the data on
  disk, as a parallel file system's clients wait for their servers: an upper-end cost);
- ``broker``: :class:`~carbide.insitu.broker.Broker` puts to the Redis endpoints.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_int
from ..exceptions import CarbideError, InvalidConfigError, MissingDependencyError

__all__ = ["OUTPUTS", "FileSink", "launch_simulation", "mpiexec_path", "warm_state"]

OUTPUTS = ("none", "file", "file_fsync", "broker")


class FileSink:
    """Per-rank ``.npy`` output: ``<directory>/rank<r>/step<s>.npy``.

    Args:
        directory: the output folder. rank: this rank.
        fsync: ``fsync`` each file before returning (default ``False``: the page cache).
    """

    def __init__(self, directory: str | os.PathLike[str], rank: int, *, fsync: bool = False):
        self.directory = Path(directory) / f"rank{rank}"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.bytes = 0

    def __call__(self, step: int, array: np.ndarray) -> None:
        data = np.ascontiguousarray(array, dtype=np.float32)
        with open(self.directory / f"step{step}.npy", "wb") as fh:
            np.save(fh, data)
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        self.bytes += data.nbytes


def warm_state(flow: dict[str, Any] | None, steps: int, path: str | os.PathLike[str]) -> Path:
    """Run the cylinder flow serially for ``steps`` steps and save the whole lattice to
    ``path`` (``.npz``: populations ``f`` (9, ny, nx), ``rho``, ``ux``, ``uy``, ``time``), so
    runs at any rank count start from the same developed wake instead of each repeating the
    start-up transient (``launch_simulation(state=path)``)."""
    from .lbm import CylinderFlow, LBMCylinder

    check_int("steps", steps, 1)
    sim = LBMCylinder(CylinderFlow(**(flow or {})))
    sim.step(steps)
    st = sim.state_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, f=st["f"], rho=st["rho"], ux=st["ux"], uy=st["uy"], time=st["time"])
    tmp.replace(path)
    return path


def _load_slab(sim: Any, path: str) -> None:
    """Load this rank's slab of a :func:`warm_state` lattice."""
    with np.load(path) as z:
        lo, n = sim.offset, sim.local_nx
        if z["f"].shape[2] != sum(w for _, w in sim.slabs):
            raise InvalidConfigError(
                f"warm state {path} has {z['f'].shape[2]} columns, the flow has "
                f"{sum(w for _, w in sim.slabs)}: it was saved for another flow")
        sim.load_state_dict({"time": int(z["time"]), "offset": lo,
                             "f": z["f"][:, :, lo:lo + n], "rho": z["rho"][:, lo:lo + n],
                             "ux": z["ux"][:, lo:lo + n], "uy": z["uy"][:, lo:lo + n]})


def mpiexec_path() -> str:
    """The ``mpiexec`` of this Python environment (the mpich wheel's), else one on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if found is None:
        raise MissingDependencyError(
            "mpiexec not found: install the MPI runtime with pip install \"carbide[insitu]\" "
            "(the mpich wheel ships mpiexec next to python)")
    return found


def launch_simulation(*, ranks: int, steps: int, every: int, output: str, out: str | Path,
                      flow: dict[str, Any] | None = None, field: str = "vorticity",
                      endpoints: str | None = None, regions: int = 1, stride: int = 1,
                      maxlen: int = 512, queue_size: int = 16, warmup: int = 0,
                      state: str | os.PathLike[str] | None = None, timeout_s: float = 1800,
                      wait: bool = True) -> dict[str, Any] | subprocess.Popen:
    """Run the cylinder flow on ``ranks`` MPI processes with the given output.

    Args:
        ranks: MPI processes (``mpiexec -n``).
        steps: time steps; every: output interval (steps).
        output: ``"none"``, ``"file"``, ``"file_fsync"`` or ``"broker"``.
        out: directory for the summary ``sim-<output>.json`` (and ``files/`` for file output).
        flow: :class:`~carbide.insitu.lbm.CylinderFlow` fields (default: its defaults).
        field: the field streamed or written.
        endpoints, regions, stride, maxlen, queue_size: broker settings (``output="broker"``).
        warmup: steps run first without output (the start-up transient); timings and outputs
            cover the ``steps`` after it, and output steps are counted from the start.
        state: a :func:`warm_state` file to start from instead (``warmup`` is then not run
            again; it should be the state's step count).
        timeout_s: kill the run after this long.
        wait: ``False`` returns the running ``Popen`` (read the summary when it exits).

    Returns:
        The summary written by rank 0: ``{"ranks", "steps", "every", "output", "wall_s",
        "step_time_mean_s", "sink_time_mean_s", "probe_signal", "broker": {...} | None, ...}``.

    Raises:
        InvalidConfigError: bad arguments. CarbideError: the MPI run failed (its stderr tail
        is in the message).
    """
    check_int("ranks", ranks, 1)
    check_int("steps", steps, 1)
    check_int("every", every, 1)
    check_int("warmup", warmup, 0)
    if output not in OUTPUTS:
        raise InvalidConfigError(f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
    if output == "broker" and not endpoints:
        raise InvalidConfigError("output='broker' needs endpoints (a Redis URL or an endpoint "
                                 "file)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = out / f"sim-{output}.json"
    if summary.exists():
        summary.unlink()
    args = {"steps": steps, "every": every, "output": output, "out": str(out), "field": field,
            "flow": flow or {}, "endpoints": endpoints, "regions": regions, "stride": stride,
            "maxlen": maxlen, "queue_size": queue_size, "warmup": warmup,
            "state": None if state is None else str(state)}
    cmd = [mpiexec_path(), "-n", str(ranks), sys.executable, "-m", "carbide.insitu.simulate",
           "--args", json.dumps(args)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    if not wait:
        return proc
    return finish_simulation(proc, summary, timeout_s=timeout_s)


def finish_simulation(proc: subprocess.Popen, summary: Path, *,
                      timeout_s: float = 1800) -> dict[str, Any]:
    """Wait for a :func:`launch_simulation` process and return its summary."""
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise CarbideError(f"the MPI simulation did not finish in {timeout_s} s") from None
    if proc.returncode != 0 or not summary.exists():
        tail = "\n".join(err.strip().splitlines()[-15:])
        raise CarbideError(f"the MPI simulation failed (exit {proc.returncode}):\n{tail}")
    return json.loads(summary.read_text())


def _main(argv: list[str] | None = None) -> None:
    from mpi4py import MPI

    from .broker import Broker
    from .lbm import CylinderFlow, LBMCylinder, run_cylinder

    parser = argparse.ArgumentParser(prog="python -m carbide.insitu.simulate")
    parser.add_argument("--args", required=True, help="JSON arguments (see launch_simulation)")
    a = json.loads(parser.parse_args(argv).args)
    comm = MPI.COMM_WORLD
    cfg = CylinderFlow(**a["flow"])
    broker = None
    sink = None
    if a["output"] in ("file", "file_fsync"):
        sink = FileSink(Path(a["out"]) / f"files-{a['output']}", comm.Get_rank(),
                        fsync=a["output"] == "file_fsync")
    elif a["output"] == "broker":
        broker = Broker(a["field"], comm, endpoints=a["endpoints"], regions=a["regions"],
                        stride=a["stride"], maxlen=a["maxlen"], queue_size=a["queue_size"])
        sink = broker.put
    sim = LBMCylinder(cfg, comm)
    if a.get("state"):
        _load_slab(sim, a["state"])
    elif a["warmup"]:
        sim.step(a["warmup"])
    comm.Barrier()
    t0 = time.perf_counter()
    stats = run_cylinder(cfg, a["steps"], comm=comm, every=a["every"], sink=sink,
                         field=a["field"], sim=sim)
    broker_stats = broker.finalize() if broker is not None else None
    wall = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
    step_mean = comm.allreduce(stats.step_time_mean_s, op=MPI.SUM) / comm.Get_size()
    sink_total = comm.allreduce(float(stats.sink_time_s), op=MPI.MAX)
    sink_mean = comm.allreduce(stats.sink_time_mean_s, op=MPI.SUM) / comm.Get_size()
    if comm.Get_rank() == 0:
        summary = {
            "ranks": comm.Get_size(), "steps": a["steps"], "every": a["every"],
            "warmup": a["warmup"],
            "output": a["output"], "field": a["field"], "flow": cfg.to_dict(),
            "wall_s": wall, "time_per_step_s": wall / a["steps"],
            "step_time_mean_s": step_mean, "sink_time_max_s": sink_total,
            "sink_time_mean_s": sink_mean, "probe_point": list(stats.probe_point),
            "probe_field": stats.probe_field, "probe_signal": stats.probe_signal.tolist(),
            "broker": broker_stats.to_dict() if broker_stats is not None else None,
        }
        path = Path(a["out"]) / f"sim-{a['output']}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(summary))
        tmp.replace(path)


if __name__ == "__main__":
    _main()

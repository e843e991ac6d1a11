"""Lattice Boltzmann cylinder flow: steps per second on 1 and 2 MPI ranks (no output).

Launches ``mpiexec -n P`` for each rank count on the default 400 x 100 grid (Re 150), runs a
few warm-up steps, then times ``--steps`` steps of :func:`carbide.insitu.lbm.run_cylinder`
with no sink; prints steps/s (the slowest rank's wall time), the mean and standard deviation
of a step, and the speed-up over 1 rank, plus grid-node updates per second (MLUPS).

Run: OMP_NUM_THREADS=1 python benchmarks/elasticbroker_lbm.py [--ranks 1,2] [--steps 500]
     [--nx 400 --ny 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


def _worker(args: argparse.Namespace) -> None:
    from mpi4py import MPI

    from carbide.insitu.lbm import CylinderFlow, LBMCylinder, run_cylinder

    comm = MPI.COMM_WORLD
    cfg = CylinderFlow(nx=args.nx, ny=args.ny)
    sim = LBMCylinder(cfg, comm)
    sim.step(args.warmup)
    comm.Barrier()
    stats = run_cylinder(cfg, args.steps, comm=comm, sim=sim)
    wall = comm.reduce(stats.wall_s, op=MPI.MAX, root=0)
    mean = comm.reduce(stats.step_time_mean_s, op=MPI.MAX, root=0)
    std = comm.reduce(stats.step_time_std_s, op=MPI.MAX, root=0)
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "steps": args.steps, "wall_s": wall,
                          "steps_per_s": args.steps / wall, "step_mean_ms": 1e3 * mean,
                          "step_std_ms": 1e3 * std,
                          "mlups": args.nx * args.ny * args.steps / wall / 1e6}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", default="1,2", help="comma-separated rank counts")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--nx", type=int, default=400)
    parser.add_argument("--ny", type=int, default=100)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    mpiexec = Path(sys.executable).with_name("mpiexec")
    launcher = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
    if launcher is None:
        sys.exit("mpiexec not found: pip install mpich (or carbide[insitu])")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    print(f"grid {args.nx} x {args.ny}, {args.steps} timed steps after {args.warmup} warm-up, "
          f"no output, {os.cpu_count()} CPUs")
    print(f"{'ranks':>5} {'steps/s':>9} {'step ms':>14} {'MLUPS':>7} {'speed-up':>8}")
    base = None
    for p in (int(r) for r in args.ranks.split(",")):
        cmd = [launcher, "-n", str(p), sys.executable, __file__, "--worker",
               "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--nx", str(args.nx), "--ny", str(args.ny)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if out.returncode != 0:
            sys.exit(f"{p} ranks failed:\n{out.stderr[-2000:]}")
        r = json.loads(out.stdout.strip().splitlines()[-1])
        base = base or r["steps_per_s"]
        print(f"{p:>5} {r['steps_per_s']:>9.1f} {r['step_mean_ms']:>7.2f} +- "
              f"{r['step_std_ms']:<4.2f} {r['mlups']:>7.2f} {r['steps_per_s'] / base:>8.2f}")


if __name__ == "__main__":
    main()

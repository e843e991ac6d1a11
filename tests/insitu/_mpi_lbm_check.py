"""Run a tiny cylinder flow under ``mpiexec -n P`` and save the gathered result (rank 0).

Usage: mpiexec -n P python _mpi_lbm_check.py OUT.npz STEPS BOUNDARY NX
Used by tests/insitu/test_lbm.py to compare the decomposed run with the serial one.
"""

from __future__ import annotations

import sys

import numpy as np
from mpi4py import MPI

from carbide.insitu.lbm import CylinderFlow, LBMCylinder, run_cylinder


def main() -> None:
    out, steps, boundary, nx = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    comm = MPI.COMM_WORLD
    cfg = CylinderFlow(nx=nx, ny=24, radius=3, u_in=0.1, reynolds=80, boundary=boundary)
    sim = LBMCylinder(cfg, comm)
    calls: list[tuple[int, tuple[int, ...]]] = []
    stats = run_cylinder(cfg, steps, comm=comm, every=5, sink=lambda s, a: calls.append(
        (s, a.shape)), sim=sim)
    fields = {name: sim.gather(name) for name in ("ux", "uy", "rho", "vorticity")}
    mass = sim.mass()
    probe = sim.probe(*cfg.wake_point, field="vorticity")
    shapes = comm.gather([c[1] for c in calls], root=0)
    if comm.rank == 0:
        np.savez(out, probe_signal=stats.probe_signal, mass=mass, probe=probe,
                 sink_steps=np.array([c[0] for c in calls]),
                 shapes=np.array([s[0] for s in shapes]), **fields)


if __name__ == "__main__":
    main()

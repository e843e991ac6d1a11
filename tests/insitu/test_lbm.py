"""Lattice Boltzmann cylinder flow: exact MPI decomposition, conservation, shedding, config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError
from carbide.insitu.lbm import (
    CylinderFlow,
    LBMCylinder,
    RunStats,
    _equilibrium,
    _moments,
    run_cylinder,
    strouhal,
)

HELPER = Path(__file__).with_name("_mpi_lbm_check.py")
MPIEXEC = Path(sys.executable).with_name("mpiexec")
if not MPIEXEC.exists():
    MPIEXEC = Path(shutil.which("mpiexec") or "mpiexec")


def _helper_config(nx: int, boundary: str) -> CylinderFlow:
    # Must match tests/insitu/_mpi_lbm_check.py.
    return CylinderFlow(nx=nx, ny=24, radius=3, u_in=0.1, reynolds=80, boundary=boundary)


def test_config_derived_values_and_defaults():
    cfg = CylinderFlow()
    assert (cfg.nx, cfg.ny, cfg.radius, cfg.cylinder_x, cfg.cylinder_y) == (400, 100, 10, 80, 50)
    assert cfg.diameter == 20
    assert cfg.viscosity == pytest.approx(0.08 * 20 / 150)
    assert cfg.tau == pytest.approx(3 * cfg.viscosity + 0.5)
    assert cfg.to_dict()["tau"] == pytest.approx(0.532)
    assert cfg.wake_point == (140, 50)


@pytest.mark.parametrize("kwargs, match", [
    ({"reynolds": 5000.0}, "tau"),
    ({"u_in": 0.5}, "u_in"),
    ({"u_in": 0.0}, "u_in"),
    ({"nx": 4}, "nx"),
    ({"radius": 49.5}, "cylinder"),
    ({"cylinder_x": 1.0}, "cylinder"),
    ({"boundary": "wall"}, "channel, periodic"),
    ({"perturbation": -0.1}, "perturbation"),
    ({"reynolds": True}, "reynolds"),
])
def test_bad_configs_raise(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        CylinderFlow(**kwargs)


class _FakeComm:
    def __init__(self, size):
        self.size = size

    def Get_rank(self):  # noqa: N802 (mpi4py's name)
        return 0

    def Get_size(self):  # noqa: N802
        return self.size


def test_too_many_ranks_for_nx_raises():
    with pytest.raises(InvalidConfigError, match="cannot be split over 4 ranks"):
        cfg = CylinderFlow(nx=12, ny=12, radius=2, cylinder_x=5, reynolds=20)
        LBMCylinder(cfg, comm=_FakeComm(4))


def test_bad_run_arguments_raise():
    cfg = _helper_config(40, "channel")
    sim = LBMCylinder(cfg)
    with pytest.raises(InvalidConfigError, match="field must be one of"):
        sim.snapshot("pressure")
    with pytest.raises(InvalidConfigError, match="outside"):
        sim.probe(40, 3)
    with pytest.raises(InvalidConfigError, match="steps"):
        run_cylinder(cfg, 0)
    with pytest.raises(InvalidConfigError, match="every"):
        run_cylinder(cfg, 5, every=0)
    with pytest.raises(InvalidConfigError, match="sink must be callable"):
        run_cylinder(cfg, 5, sink=3)


def test_equilibrium_has_the_given_moments():
    rng = np.random.default_rng(0)
    rho = 1 + 0.1 * rng.random((5, 7))
    ux, uy = 0.1 * rng.standard_normal((2, 5, 7))
    r, u, v = _moments(_equilibrium(rho, ux, uy))
    np.testing.assert_allclose(r, rho, rtol=1e-14)
    np.testing.assert_allclose(u, ux, atol=1e-14)
    np.testing.assert_allclose(v, uy, atol=1e-14)


def test_mass_conserved_in_a_periodic_box():
    sim = LBMCylinder(_helper_config(40, "periodic"))
    m0 = sim.mass()
    sim.step(300)
    assert sim.time == 300
    assert abs(sim.mass() - m0) / m0 < 1e-12
    # ... and the flow did change (the cylinder brakes it): not a trivially frozen state.
    assert not np.allclose(sim.snapshot("ux")[0], 0.1)


def test_sink_gets_fresh_local_arrays_every_k_steps():
    cfg = _helper_config(40, "channel")
    got: list[tuple[int, np.ndarray]] = []
    sim = LBMCylinder(cfg)
    stats = run_cylinder(cfg, 20, every=5, sink=lambda s, a: got.append((s, a)), field="ux",
                         sim=sim)
    assert [s for s, _ in got] == [5, 10, 15, 20]
    assert all(a.shape == (24, 40) and a.dtype == np.float64 for _, a in got)
    np.testing.assert_array_equal(got[-1][1], sim.snapshot("ux"))
    got[-1][1][:] = 7.0  # the sink owns its array: writing to it leaves the solver alone
    assert not np.any(sim.snapshot("ux") == 7.0)
    assert isinstance(stats, RunStats)
    assert stats.steps == 20 and stats.step_times.shape == (20,)
    assert stats.sink_times.shape == (4,) and stats.sink_time_s > 0
    assert stats.probe_signal.shape == (20,)
    d = stats.to_dict()
    assert d["outputs"] == 4 and "probe_signal" not in d


def test_no_sink_means_no_outputs_and_probe_matches_probe_method():
    cfg = _helper_config(40, "channel")
    sim = LBMCylinder(cfg)
    stats = run_cylinder(cfg, 10, sim=sim, probe=(30, 12), probe_field="ux")
    assert stats.sink_times.size == 0
    assert stats.probe_signal[-1] == sim.probe(30, 12, field="ux")


def test_state_dict_resumes_bit_for_bit():
    cfg = _helper_config(40, "channel")
    a = LBMCylinder(cfg)
    a.step(30)
    state = a.state_dict()
    a.step(20)
    b = LBMCylinder(cfg)
    b.load_state_dict(state)
    b.step(20)
    assert b.time == 50
    np.testing.assert_array_equal(a.snapshot("vorticity"), b.snapshot("vorticity"))


def _mpi_run(tmp_path, nx, boundary, steps):
    out = tmp_path / f"{boundary}.npz"
    # The ranks must import the same carbide as this process (a worktree's src/, say).
    import carbide

    src = str(Path(carbide.__file__).resolve().parents[1])
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [str(MPIEXEC), "-n", "2", sys.executable, str(HELPER), str(out), str(steps), boundary,
         str(nx)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.load(out)


@pytest.mark.parametrize("nx, boundary", [(61, "channel"), (40, "periodic")])
def test_two_ranks_match_one_rank(tmp_path, nx, boundary):
    pytest.importorskip("mpi4py")
    if not MPIEXEC.exists():
        pytest.skip("mpiexec not found")
    steps = 150
    got = _mpi_run(tmp_path, nx, boundary, steps)
    cfg = _helper_config(nx, boundary)
    sim = LBMCylinder(cfg)
    stats = run_cylinder(cfg, steps, every=5, sim=sim)
    for name in ("ux", "uy", "rho", "vorticity"):
        np.testing.assert_allclose(got[name], sim.snapshot(name), rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["probe_signal"], stats.probe_signal, rtol=0, atol=1e-12)
    assert float(got["probe"]) == pytest.approx(sim.probe(*cfg.wake_point, "vorticity"),
                                                abs=1e-12)
    assert float(got["mass"]) == pytest.approx(sim.mass(), rel=1e-13)
    # Rank 0 owned ceil(nx/2) columns, rank 1 the rest; the sink saw each rank's slab.
    assert got["shapes"].tolist() == [[24, (nx + 1) // 2], [24, nx // 2]]
    assert got["sink_steps"].tolist() == list(range(5, steps + 1, 5))
    # The decomposition really did something: the flow is not the initial state.
    assert np.abs(got["vorticity"]).max() > 1e-3


def test_vortex_shedding_strouhal_near_0_2():
    # Tiny grid (D = 6 nodes, Re 100): shedding saturates within ~2000 steps (~2 s).
    cfg = CylinderFlow(nx=120, ny=32, radius=3, u_in=0.1, reynolds=100)
    stats = run_cylinder(cfg, 3000)
    sig = stats.probe_signal
    # Shedding: the wake's transverse velocity oscillates with an amplitude comparable to u_in.
    assert np.ptp(sig[-600:]) > 0.5 * cfg.u_in
    st = strouhal(sig, 1.0, cfg.diameter, cfg.u_in, transient=0.5)
    assert 0.15 <= st <= 0.25


def test_strouhal_of_a_pure_sinusoid():
    t = np.arange(4000)
    sig = np.sin(2 * np.pi * 0.0025 * t)
    assert strouhal(sig, 1.0, 8.0, 0.1, transient=0.25) == pytest.approx(0.2, rel=1e-3)


def test_warm_state_continues_exactly_where_the_warm_up_stopped(tmp_path):
    from carbide.insitu.simulate import _load_slab, warm_state

    flow = {"nx": 40, "ny": 16, "radius": 2, "u_in": 0.1, "reynolds": 20}
    path = warm_state(flow, 30, tmp_path / "warm.npz")
    ref = LBMCylinder(CylinderFlow(**flow))
    ref.step(35)
    sim = LBMCylinder(CylinderFlow(**flow))
    _load_slab(sim, str(path))
    assert sim.time == 30
    sim.step(5)
    np.testing.assert_array_equal(sim.snapshot("vorticity"), ref.snapshot("vorticity"))
    other = LBMCylinder(CylinderFlow(**{**flow, "nx": 48}))
    with pytest.raises(InvalidConfigError, match="has 40 columns, the flow has 48"):
        _load_slab(other, str(path))


@pytest.mark.parametrize("fsync", [False, True])
def test_file_sink_writes_each_snapshot_as_npy(tmp_path, fsync):
    from carbide.insitu.simulate import FileSink

    sink = FileSink(tmp_path, rank=3, fsync=fsync)
    a = np.arange(12.0).reshape(3, 4)
    sink(10, a)
    back = np.load(tmp_path / "rank3" / "step10.npy")
    assert back.dtype == np.float32 and np.array_equal(back, a) and sink.bytes == 48

"""Flower SecAgg+ as Citadel's peer: per-round time of ``SecAggPlusWorkflow`` at our model size.

Builds its own virtual environment with ``flwr[simulation]==1.42.0`` (it pins another Ray than
carbide's, so not in carbide's environment), under ``--venv`` (default
``$CARBIDE_CACHE/flwr-1.42.0``, ``$CARBIDE_CACHE`` defaulting to ``~/.cache/carbide/cache``),
then runs ``flwr.simulation.run_simulation`` in it twice, one after the other: Flower's plain
``DefaultWorkflow`` (FedAvg, no secure aggregation) and ``DefaultWorkflow(fit_workflow=
SecAggPlusWorkflow(num_shares, reconstruction_threshold))`` with ``secaggplus_mod`` on the
``ClientApp``. The model: numpy arrays with the LEAF FEMNIST CNN's parameter shapes
(d = 6,603,710, taken from carbide's ``ModelSpec("leaf-cnn", 1, 62, 28)``); the clients do
no training (their "update" is the parameters plus a fixed small offset), so the time is
Flower's round: protocol, quantization, masking, messaging. Per-round time is taken inside
the ServerApp, from the strategy's ``configure_fit`` to the end of ``aggregate_fit``; the
simulation's own start-up (Ray, actors) is reported apart.

Run: OMP_NUM_THREADS=1 python benchmarks/citadel_flower_secaggplus.py [--clients 4]
     [--rounds 1] [--num-shares 3] [--threshold 2] [--venv DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

FLWR = "flwr[simulation]==1.42.0"


def _venv(path: Path) -> Path:
    py = path / "bin" / "python"
    ok = py.exists() and subprocess.run(
        [str(py), "-c", "import flwr, sys; sys.exit(flwr.__version__ != '1.42.0')"],
        capture_output=True).returncode == 0
    if not ok:
        print(f"building {path} with {FLWR} ...", flush=True)
        subprocess.run(["python3", "-m", "venv", str(path)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", FLWR], check=True)
    return py


def _shapes() -> list[list[int]]:
    from carbide.federated.models import ModelSpec

    return [list(p.shape) for p in ModelSpec("leaf-cnn", 1, 62, 28).build_model().parameters()]


def outer(args: argparse.Namespace) -> None:
    cache = Path(os.environ.get("CARBIDE_CACHE", Path.home() / ".cache" / "carbide" / "cache"))
    venv = Path(args.venv) if args.venv else cache / "flwr-1.42.0"
    py = _venv(venv)
    spec = {"shapes": _shapes(), "clients": args.clients, "rounds": args.rounds,
            "num_shares": args.num_shares, "threshold": args.threshold}
    results = {}
    load0 = Path("/proc/loadavg").read_text().split()[:3]
    for mode in ("plain", "secaggplus"):
        out = subprocess.run([str(py), __file__, "--inner", mode, "--spec", json.dumps(spec)],
                             capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1", "RAY_DEDUP_LOGS": "0"})
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
        if out.returncode or not line:
            sys.exit(f"flower {mode} run failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
        results[mode] = json.loads(line[-1][7:])
    load1 = Path("/proc/loadavg").read_text().split()[:3]
    d = sum(int(math.prod(s)) for s in spec["shapes"])
    res = {"command": "benchmarks/citadel_flower_secaggplus.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
        if v is not None and k not in ("json", "inner", "spec", "venv")),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "flwr": "1.42.0",
        "d": d, "clients": args.clients, "rounds": args.rounds,
        "num_shares": args.num_shares, "reconstruction_threshold": args.threshold,
        "cores": os.cpu_count(), "loadavg_start": load0, "loadavg_end": load1,
        "plain_round_s": results["plain"]["round_s"],
        "secaggplus_round_s": results["secaggplus"]["round_s"],
        "plain_total_s": results["plain"]["total_s"],
        "secaggplus_total_s": results["secaggplus"]["total_s"]}
    res["secaggplus_over_plain"] = (sum(res["secaggplus_round_s"]) /
                                    sum(res["plain_round_s"]))
    print(f"Flower 1.42.0 run_simulation, {args.clients} clients, d = {d:,}, "
          f"{os.cpu_count()} cores (shared), load {' '.join(load0)} / {' '.join(load1)}")
    print(f"  plain FedAvg round(s): {[round(t, 3) for t in res['plain_round_s']]} s "
          f"(whole simulation {res['plain_total_s']:.1f} s)")
    print(f"  SecAgg+ round(s):      {[round(t, 3) for t in res['secaggplus_round_s']]} s "
          f"(whole simulation {res['secaggplus_total_s']:.1f} s; num_shares "
          f"{args.num_shares}, threshold {args.threshold})")
    print(f"  SecAgg+ / plain: {res['secaggplus_over_plain']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


def inner(mode: str, spec: dict) -> None:  # runs in the flwr venv
    import numpy as np
    from flwr.client import ClientApp, NumPyClient
    from flwr.client.mod import secaggplus_mod
    from flwr.common import Context, ndarrays_to_parameters
    from flwr.server import Grid, LegacyContext, ServerApp, ServerConfig
    from flwr.server.strategy import FedAvg
    from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
    from flwr.simulation import run_simulation

    rng = np.random.default_rng(0)
    params = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in spec["shapes"]]
    marks: dict[int, list[float]] = {}

    class Client(NumPyClient):
        def fit(self, parameters, config):
            return [p + np.float32(1e-3) for p in parameters], 10, {}

    class Timed(FedAvg):
        def configure_fit(self, server_round, parameters, client_manager):
            marks[server_round] = [time.perf_counter()]
            return super().configure_fit(server_round, parameters, client_manager)

        def aggregate_fit(self, server_round, results, failures):
            out = super().aggregate_fit(server_round, results, failures)
            marks[server_round].append(time.perf_counter())
            if failures:
                raise RuntimeError(f"round {server_round}: {len(failures)} client failures")
            return out

    n = spec["clients"]
    strategy = Timed(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=n,
                     min_available_clients=n, initial_parameters=ndarrays_to_parameters(params))
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        ctx = LegacyContext(context=context, config=ServerConfig(num_rounds=spec["rounds"]),
                            strategy=strategy)
        fit = (SecAggPlusWorkflow(num_shares=spec["num_shares"],
                                  reconstruction_threshold=spec["threshold"])
               if mode == "secaggplus" else None)
        DefaultWorkflow(fit_workflow=fit)(grid, ctx)

    client = ClientApp(client_fn=lambda context: Client().to_client(),
                       mods=[secaggplus_mod] if mode == "secaggplus" else [])
    t0 = time.perf_counter()
    run_simulation(server_app=server, client_app=client, num_supernodes=n,
                   backend_config={"client_resources": {"num_cpus": 1},
                                   "init_args": {"num_cpus": 2, "include_dashboard": False,
                                                 "_node_ip_address": "127.0.0.1"}})
    total = time.perf_counter() - t0
    rounds = [marks[r][1] - marks[r][0] for r in sorted(marks) if len(marks[r]) == 2]
    if len(rounds) != spec["rounds"]:
        raise SystemExit(f"only {len(rounds)} of {spec['rounds']} rounds completed")
    print("RESULT " + json.dumps({"round_s": rounds, "total_s": total}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--num-shares", type=int, default=3)
    ap.add_argument("--threshold", type=int, default=2)
    ap.add_argument("--venv", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--inner", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--spec", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        inner(args.inner, json.loads(args.spec))
    else:
        outer(args)


if __name__ == "__main__":
    main()

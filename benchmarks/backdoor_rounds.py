"""Federated rounds per second: 100 FEMNIST writers, 10 per round, 1 local epoch.

Runs the same simulation (LEAF CNN, one attacker, FedAvg) on the in-process backend and on
Ray, and prints rounds per second (median over the timed rounds, after one warm-up round)
with where a round's time goes: the backend's wall time for the clients (train), the sum of
the clients' own training seconds (client), aggregation and evaluation.

Run: OMP_NUM_THREADS=1 CARBIDE_DATA=../shared/data python benchmarks/backdoor_rounds.py
     [--rounds 6] [--backends local,ray] [--hidden 2048]
"""

from __future__ import annotations

import argparse
import statistics
import time

from carbide.federated import (
    FLConfig,
    LocalTraining,
    ModelSpec,
    Simulation,
    load_federated_data,
)
from carbide.federated.attacks import BackdoorAttack, PixelTrigger
from carbide.federated.experiment import BackdoorRunConfig
from carbide.results import markdown_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--backends", default="local,ray")
    parser.add_argument("--hidden", type=int, default=2048, help="LEAF CNN dense width")
    args = parser.parse_args()

    data = load_federated_data(BackdoorRunConfig(dataset="femnist", partition="writers",
                                                 clients=100, per_round=10))
    model = ModelSpec("leaf-cnn", 1, data.num_classes, 28, hidden=args.hidden)
    attacker = next(iter(data.clients))
    rows = []
    for backend in args.backends.split(","):
        t0 = time.perf_counter()
        sim = Simulation(model, data.clients, data.test,
                         FLConfig(rounds=args.rounds + 1, clients_per_round=10,
                                  local=LocalTraining(epochs=1, batch_size=32, lr=0.05)),
                         attack=BackdoorAttack(trigger=PixelTrigger(value=0.0)),
                         attackers=[attacker], backend=backend)
        start = time.perf_counter() - t0
        try:
            hist = sim.run(progress=False)[1:]  # the first round warms up (Ray: workers start)
        finally:
            sim.close()
        med = {k: statistics.median(r[k] for r in hist)
               for k in ("round_time_s", "train_time_s", "client_time_s", "aggregate_time_s",
                         "eval_time_s")}
        rows.append({"backend": backend, "rounds/s": 1 / med["round_time_s"],
                     "round s": med["round_time_s"], "train s": med["train_time_s"],
                     "client s (sum)": med["client_time_s"],
                     "aggregate s": med["aggregate_time_s"], "eval s": med["eval_time_s"],
                     "startup s": start})
    print(f"FEMNIST, 100 writers ({sum(len(y) for _, y in data.clients.values())} samples), "
          f"10 per round, 1 local epoch, LEAF CNN hidden={args.hidden} "
          f"({sum(p.numel() for p in model.build_model().parameters()):,} parameters); median of "
          f"{args.rounds} rounds after one warm-up; evaluation on {len(data.test[1])} test "
          f"images is outside the round time")
    print(markdown_table(rows))


if __name__ == "__main__":
    main()

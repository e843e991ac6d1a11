"""Reference search curves of the carbide.nas baselines on the tabular benchmarks.

Usage: CARBIDE_DATA=../shared/data python benchmarks/nas_strategies.py [--budget 150]
       [--seeds 10] [--population 20] [--sample-size 5]

For NAS-Bench-201 (CIFAR-10 validation accuracy, seed mean) and the NAS-Bench-101 500-cell
subset, runs random search and regularized evolution for ``--budget`` queries over
``--seeds`` seeds and prints the mean and standard deviation of the regret (table optimum
minus best validation accuracy found, percentage points) at a few query counts, the mean
simulated training time charged, and the wall time of the whole sweep.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=150)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--sample-size", type=int, default=5)
    args = parser.parse_args()

    from carbide.datasets import NASBench101, NASBench201
    from carbide.nas import (
        RandomSearch,
        RegularizedEvolution,
        make_evaluator,
        make_space,
        run_search,
    )

    checkpoints = sorted({q for q in (10, 25, 50, 100, args.budget) if q <= args.budget})
    for name, bench in (("nb201", NASBench201.load()), ("nb101", NASBench101.load())):
        space = make_space(name, bench=bench)
        print(f"\n{name}: {space!r}, budget {args.budget}, {args.seeds} seeds")
        print(f"{'strategy':8s} " + " ".join(f"{'@' + str(q):>14s}" for q in checkpoints)
              + f" {'sim. cost h':>12s} {'dups':>6s} {'stuck':>5s} {'wall s':>7s}")
        for label in ("random", "rea"):
            start = time.perf_counter()
            regrets, costs, dups, stuck = [], [], [], 0
            for seed in range(args.seeds):
                if label == "random":
                    strategy = RandomSearch(space, seed=seed)
                else:
                    strategy = RegularizedEvolution(space, population=args.population,
                                                    sample_size=args.sample_size, seed=seed)
                evaluator = make_evaluator(name, bench)
                history = run_search(strategy, evaluator, args.budget)
                regret = history.regret(evaluator.optimum())
                stuck += history.exhausted  # stopped early: hold its last value
                regrets.append(np.pad(regret, (0, args.budget - regret.size), mode="edge"))
                costs.append(history.total_cost_s / 3600.0)
                dups.append(history.duplicates)
            wall = time.perf_counter() - start
            r = np.stack(regrets)
            cells = " ".join(
                f"{r[:, q - 1].mean():7.3f}+-{r[:, q - 1].std():5.3f}" for q in checkpoints
            )
            print(f"{label:8s} {cells} {np.mean(costs):12.1f} {np.mean(dups):6.1f} "
                  f"{stuck:5d} {wall:7.2f}")
    print("\nregret in accuracy points (mean+-std over seeds) after @N queries; "
          "sim. cost = table training hours charged (nb101 subset records none); dups = "
          "free repeated asks per run; stuck = runs that hit max_asks before the budget")


if __name__ == "__main__":
    main()

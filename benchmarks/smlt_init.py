"""Repeated initialization: Lithops localhost calls (a fresh process per call, torch imported
again) against the warm worker pool (torch imported once per process), and what a fresh
interpreter pays for its imports (the lean ``import carbide.serverless`` against torch).

Rounds of 2 workers training the ResNet-18-style CNN (width 16) on 256 CIFAR-10 images,
engines interleaved round by round; medians printed with the load average.

    PYTHONPATH=src OMP_NUM_THREADS=1 CARBIDE_DATA=... python benchmarks/smlt_init.py \\
        [--rounds 3] [--engines lithops,pool[,ray]]
"""

from __future__ import annotations

import argparse


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--engines", default="lithops,pool")
    ap.add_argument("--repeats", type=int, default=3, help="fresh-interpreter import runs")
    args = ap.parse_args()

    from carbide.serverless import load_workload, open_store
    from carbide.serverless.experiment import measure_initialization

    def load() -> str:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])

    wl = load_workload("cifar10", train_samples=256, test_samples=10, width=16)
    store, close = open_store()
    try:
        before = load()
        rows = measure_initialization(store.url, wl.model, wl.train, rounds=args.rounds,
                                      engines=tuple(args.engines.split(",")),
                                      import_repeats=args.repeats)
        after = load()
    finally:
        close()
    print(f"load average before {before}, after {after} (2 cores)")
    print(f"{'engine':>8} {'round s':>8} {'s/call':>7} {'cold s':>7} {'cold %':>7} "
          f"{'init s':>7}   (medians of {args.rounds} rounds, 2 workers)")
    for r in (r for r in rows if r["kind"] == "init"):
        print(f"{r['engine']:>8} {r['round_s']:>8.2f} {r['function_s_per_call']:>7.2f} "
              f"{r['cold_start_s']:>7.2f} {100 * r['cold_fraction']:>6.0f}% "
              f"{r['executor_init_s']:>7.2f}")
    print(f"fresh interpreter, median of {args.repeats}:")
    for r in (r for r in rows if r["kind"] == "import"):
        print(f"  {r['seconds']:>6.2f} s  {r['what']}")


if __name__ == "__main__":
    main()

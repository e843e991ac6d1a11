"""SMLT aggregation: round time and bytes per worker of the three schemes against n.

Goal (issue 18): at 8 local workers, hierarchical round time <= 0.5x download-all's, and
hierarchical bytes per worker flat in n. Workers are threads with their own Redis
connections to one embedded redis-server; on a loaded 2-core machine the times are inflated.

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/smlt_aggregation.py [--params P]
"""

from __future__ import annotations

import argparse

from carbide.serverless import BenchConfig, run_bench


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", type=int, default=2_000_000)
    ap.add_argument("--workers", default="1,2,4,8")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"P = {args.params:,} float32 ({args.params * 4 / 1e6:.1f} MB per update), m = n")
    print(f"{'n':>3} {'scheme':>17} {'round s':>9} {'MB/worker':>10} {'formula MB':>10} "
          f"{'max err':>9}")
    hier, down = {}, {}
    for n in (int(x) for x in args.workers.split(",")):
        m, rows = run_bench(BenchConfig(workers=n, params=args.params, repeats=args.repeats))
        for r in rows:
            print(f"{n:>3} {r['scheme']:>17} {r['round_s']:>9.3f} "
                  f"{r['bytes_per_worker'] / 1e6:>10.2f} "
                  f"{r['expected_bytes_per_worker'] / 1e6:>10.2f} {r['max_abs_err']:>9.1e}")
        hier[n] = m["hierarchical_round_s"], m["hierarchical_bytes_per_worker"]
        down[n] = m["download_all_round_s"]
    top, low = max(hier), min(hier)
    print(f"hierarchical / download-all round time at n={top}: "
          f"{hier[top][0] / down[top]:.2f} (goal <= 0.5)")
    print(f"hierarchical bytes per worker n={top} / n={low}: "
          f"{hier[top][1] / hier[low][1]:.2f} (formula 2P + (n + 1) P / n: flat in n)")


if __name__ == "__main__":
    main()

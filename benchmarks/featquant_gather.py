"""Gather + dequantize throughput of BiFeat's compressed features against fp32 index_select.

Usage: python benchmarks/featquant_gather.py [--rows 4000000] [--dim 128] [--batch 200000]

One run, one thread: an N x D float32 Gaussian table is quantized with SQ1, SQ2, VQ(16,256)
and VQ(16,2048); the same random rows are gathered as fp32 `index_select` and as gather codes +
fused dequantize, each allocating its output and writing into a reused buffer. Prints median
times, rows/s and speed-ups (see carbide.compression.featquant.bench).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    from carbide.compression.featquant.bench import gather_benchmark

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--batch", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"table {args.rows} x {args.dim} float32 ({args.rows * args.dim * 4 / 2**30:.2f} GiB), "
          f"gather {args.batch} random rows, 1 thread, median of {args.repeats}")
    cols = ("setting", "build_s", "compression_ratio", "ms", "mrows_s", "speedup", "ms_out",
            "mrows_s_out", "speedup_out")
    print(" ".join(f"{c:>17s}" for c in cols))
    gather_benchmark(args.rows, args.dim, args.batch, repeats=args.repeats, seed=args.seed,
                     report=lambda r: print(" ".join(f"{r[c]!s:>17s}" for c in cols),
                                            flush=True))


if __name__ == "__main__":
    main()

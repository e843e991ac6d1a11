"""VQ fitting time of BiFeat: faiss k-means against the pure-torch k-means, on 1M x 128 rows.

Usage: python benchmarks/bifeat_vq_fit.py [--rows 1000000] [--dim 128] [--width 16]
       [--codebook 2048] [--kmeans faiss,torch] [--sample-rows N] [--threads 1] [--json out.json]

A synthetic N x D float32 Gaussian matrix (labelled synthetic: no real features) is quantized
with VQ(width, codebook) by each fitter: the codebooks are fitted (``vq_fit``, on the default
row sample ``max(32 * codebook, 10_000)`` unless ``--sample-rows`` is given) and then every row
is encoded (``vq_encode``); both are timed, in wall-clock and in this process's CPU seconds
(on a shared machine the CPU seconds move less with the load), with the load average before
and after. The relative reconstruction error of each fit is printed beside its time.

Measured (2026-12-04, this 2-core shared VM, 1 thread, defaults: 65,536-row k-means sample,
20 iterations), wall s (CPU s):

* faiss, load average 3.1: fit 43.0 (21.1), encode of all 1M rows 138.6 (68.4), total 181.6;
  under load 8-10 the same fit took 153.4 (24.5);
* torch, load average 3.3-5.1: fit 501.8 (131.7), encode 181.9 (60.9), total 683.8;
* relative error 0.676 for both (Gaussian data has no clusters: only the time compares).

The fit is under a minute with faiss; encoding every row (``vq_encode``, torch, the same for
both fitters) is not. Fitting faiss on all 1M rows (``--sample-rows 1000000``) and encoding
did not finish within 600 s (killed by the timeout, load average 3.3-3.9).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

from carbide.results import load_average  # noqa: E402  (light: no torch)


def vq_fit_benchmark(rows: int = 1_000_000, dim: int = 128, width: int = 16,
                     codebook: int = 2048, *, kmeans: tuple[str, ...] = ("faiss", "torch"),
                     sample_rows: int | None = None, iters: int = 20, threads: int = 1,
                     seed: int = 0) -> dict[str, Any]:
    """Fit and encode VQ(width, codebook) on a synthetic Gaussian ``rows x dim`` matrix.

    Returns:
        ``{"rows_n", "dim", "width", "codebook", "sample_rows", "threads", "rows": [...]}``;
        one row per fitter: ``fit_s, fit_cpu_s, encode_s, encode_cpu_s, total_s, rel_error``
        (``|x - decode(encode(x))| / |x|`` over the first 100k rows), load averages.
    """
    import torch

    from carbide.compression.featquant import vq_decode, vq_encode, vq_fit

    torch.set_num_threads(threads)
    x = torch.randn((rows, dim), generator=torch.Generator().manual_seed(seed))
    m = min(rows, sample_rows if sample_rows is not None else max(32 * codebook, 10_000))
    results = []
    for name in kmeans:
        load_before = load_average()
        t0, c0 = time.perf_counter(), time.process_time()
        books, zero = vq_fit(x, width, codebook, sample_rows=m, iters=iters, seed=seed,
                             kmeans=name)
        t1, c1 = time.perf_counter(), time.process_time()
        codes = vq_encode(x, books, zero)
        t2, c2 = time.perf_counter(), time.process_time()
        head = x[:100_000]
        err = float((vq_decode(codes[:100_000], books, dim) - head).norm() / head.norm())
        row = {"kmeans": name, "fit_s": round(t1 - t0, 1), "fit_cpu_s": round(c1 - c0, 1),
               "encode_s": round(t2 - t1, 1), "encode_cpu_s": round(c2 - c1, 1),
               "total_s": round(t2 - t0, 1), "rel_error": round(err, 4),
               "loadavg_before": load_before, "loadavg_after": load_average()}
        results.append(row)
        print(" ".join(f"{row[c]!s:>14s}" for c in _COLS), flush=True)
    return {"rows_n": rows, "dim": dim, "width": width, "codebook": codebook,
            "sample_rows": m, "iters": iters, "threads": threads, "data": "synthetic Gaussian",
            "rows": results}


_COLS = ("kmeans", "fit_s", "fit_cpu_s", "encode_s", "encode_cpu_s", "total_s", "rel_error",
         "loadavg_before", "loadavg_after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--codebook", type=int, default=2048)
    parser.add_argument("--kmeans", default="faiss,torch", help="comma-separated fitters")
    parser.add_argument("--sample-rows", type=int, default=None,
                        help="rows the k-means sees (default max(32 * codebook, 10000))")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    print(f"VQ({args.width},{args.codebook}) on a synthetic Gaussian {args.rows} x {args.dim} "
          f"float32 matrix, {args.threads} thread(s), {args.iters} k-means iterations; load "
          f"average {load_average()} (1, 5, 15 min)")
    print(" ".join(f"{c:>14s}" for c in _COLS))
    res = vq_fit_benchmark(args.rows, args.dim, args.width, args.codebook,
                           kmeans=tuple(args.kmeans.split(",")), sample_rows=args.sample_rows,
                           iters=args.iters, threads=args.threads, seed=args.seed)
    print(f"k-means sample: {res['sample_rows']} rows; load average now {load_average()}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()

"""Gather + dequantize throughput of BiFeat's compressed features against fp32 index_select.

Usage: python benchmarks/bifeat_gather.py [--rows 4000000] [--dim 128] [--batch 200000]

One run, one thread: an N x D float32 Gaussian table is quantized with SQ1, SQ2, VQ(16,256)
and VQ(16,2048); the same random rows are gathered as fp32 `index_select` and as gather codes +
fused dequantize, each allocating its output and writing into a reused buffer. Prints median
times, rows/s and speed-ups (gather_benchmark below).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")


#: (name, quantize kwargs) of the gather benchmark; ``None`` = fp32.
GATHER_SETTINGS: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("fp32", None),
    ("SQ1", {"method": "sq", "bits": 1}),
    ("SQ2", {"method": "sq", "bits": 2}),
    ("VQ(16,256)", {"method": "vq", "width": 16, "codebook": 256}),
    ("VQ(16,2048)", {"method": "vq", "width": 16, "codebook": 2048, "sample_rows": 65_536,
                     "iters": 10}),
)


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up: page in the table, build decode tables
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gather_benchmark(
    rows: int = 4_000_000,
    dim: int = 128,
    batch: int = 200_000,
    *,
    repeats: int = 7,
    seed: int = 0,
    threads: int = 1,
    settings: tuple[tuple[str, dict[str, Any] | None], ...] = GATHER_SETTINGS,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Time gathering ``batch`` random rows of a ``rows x dim`` Gaussian table.

    For each setting, two ways: allocating a fresh output per call (``x[index]``, what most
    training loops do) and writing into a reused output buffer (``out=``). fp32 is
    ``index_select``; quantized settings gather codes then dequantize with one fused lookup.

    Returns:
        One dict per setting: ``setting, build_s, compression_ratio, ms, ms_out, mrows_s,
        mrows_s_out, speedup`` (vs fp32 allocating) and ``speedup_out`` (both with ``out=``).
    """
    import torch

    from carbide.compression.featquant import DenseFeatures, quantize

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((rows, dim), generator=gen)
    index = torch.randint(rows, (batch,), generator=gen)
    buf = torch.empty((batch, dim))
    results: list[dict[str, Any]] = []
    base = base_out = None
    for name, kwargs in settings:
        t0 = time.perf_counter()
        feats = DenseFeatures(x) if kwargs is None else quantize(x, seed=seed, **kwargs)
        built = time.perf_counter() - t0
        sec = _median_time(lambda f=feats: f.gather(index), repeats)
        sec_out = _median_time(lambda f=feats: f.gather(index, out=buf), repeats)
        base, base_out = base or sec, base_out or sec_out
        row = {
            "setting": name, "build_s": round(built, 2),
            "compression_ratio": round(feats.compression_ratio, 2),
            "ms": round(sec * 1e3, 2), "ms_out": round(sec_out * 1e3, 2),
            "mrows_s": round(batch / sec / 1e6, 3), "mrows_s_out": round(batch / sec_out / 1e6, 3),
            "speedup": round(base / sec, 2), "speedup_out": round(base_out / sec_out, 2),
        }
        results.append(row)
        if report is not None:
            report(row)
        del feats
    return results


def main() -> None:
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

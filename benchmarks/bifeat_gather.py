"""Gather + dequantize throughput of BiFeat's compressed features against fp32 index_select.

Usage: python benchmarks/bifeat_gather.py [--rows 4000000] [--dim 128] [--batch 200000]
       [--threads 1,2] [--rounds 5] [--json out.json]

An N x D float32 Gaussian table is quantized with SQ1, SQ2, VQ(16,256) and VQ(16,2048); the
same random rows are gathered as fp32 ``index_select`` and as codes gathered + dequantized, by
the fused numba kernel and by the torch path (``kernel="torch"``). Each is timed allocating its
output and writing into a reused buffer (``out=``). The compared runs are interleaved (every
round times every setting once, in turn) and the medians over rounds are reported, with the
load average before and after: on a shared machine the absolute times move with the load, the
interleaved ratios much less. See gather_benchmark below.

Clocks: on 1 thread every figure is the calling thread's CPU time (``time.thread_time``), so a
run preempted by other jobs on a shared machine is not charged for the time it waited (memory
stalls still count: they are CPU time). On more threads the work runs on other threads, whose
CPU time the caller's clock does not see, so those figures are wall time
(``time.perf_counter``) and move with the load. The ``clock`` column says which.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

from carbide.results import load_average  # noqa: E402  (light: no torch)

#: (name, quantize kwargs) of the gather benchmark; ``None`` = fp32.
GATHER_SETTINGS: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("fp32", None),
    ("SQ1", {"method": "sq", "bits": 1}),
    ("SQ2", {"method": "sq", "bits": 2}),
    ("VQ(16,256)", {"method": "vq", "width": 16, "codebook": 256}),
    ("VQ(16,2048)", {"method": "vq", "width": 16, "codebook": 2048}),
)


def _clock(threads: int) -> Callable[[], float]:
    """Thread CPU time on 1 thread (robust to preemption on a shared machine), else wall
    time (the caller's CPU time would miss the other threads' work)."""
    return time.thread_time if threads == 1 else time.perf_counter


def _time(fn: Callable[[], Any], repeats: int, clock: Callable[[], float]) -> float:
    """Best of ``repeats`` back-to-back calls (one round's figure; rounds give the median)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def gather_benchmark(
    rows: int = 4_000_000,
    dim: int = 128,
    batch: int = 200_000,
    *,
    rounds: int = 5,
    repeats: int = 2,
    seed: int = 0,
    threads: tuple[int, ...] = (1, 2),
    settings: tuple[tuple[str, dict[str, Any] | None], ...] = GATHER_SETTINGS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Time gathering ``batch`` random rows of a ``rows x dim`` Gaussian table.

    For each thread count, ``rounds`` rounds; a round times every (setting, path, mode) once
    (best of ``repeats`` calls), so slow phases of a shared machine hit all of them alike.
    fp32 is ``index_select``; each quantized setting runs the numba kernel and the torch path.
    1 thread: thread CPU time; more threads: wall time (see the module docstring).

    Returns:
        ``{"loadavg_before", "loadavg_after", "builds": [...], "rows": [...]}``; one row per
        (threads, setting, path): ``clock`` (``"thread_cpu"`` or ``"wall"``), ``ms, ms_out``
        (medians over rounds, allocating / ``out=``), ``mrows_s_out``, ``speedup,
        speedup_out`` (fp32 median / this median, same threads and mode), ``ms_rounds_out``
        (every round's figure) and ``loadavg`` / ``load1`` (the load average when that thread
        count's rounds ended).
    """
    import torch

    from carbide.compression.featquant import DenseFeatures, quantize
    from carbide.compression.featquant._kernel import compile_kernels, numba_available

    load_before = load_average()
    compile_kernels()  # the first compile (or the cache load) stays out of the timed region
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((rows, dim), generator=gen)
    index = torch.randint(rows, (batch,), generator=gen)
    buf = torch.empty((batch, dim))
    feats: dict[str, Any] = {}
    builds = []
    for name, kwargs in settings:
        t0 = time.perf_counter()
        feats[name] = DenseFeatures(x) if kwargs is None else quantize(x, seed=seed, **kwargs)
        built = time.perf_counter() - t0
        builds.append({"setting": name, "build_s": round(built, 1),
                       "compression_ratio": round(feats[name].compression_ratio, 2)})
        log(f"built {name}: {built:.1f} s, {feats[name].compression_ratio:.1f}x")
    paths = ["numba", "torch"] if numba_available() else ["torch"]
    cases = [(name, None if f.method == "none" else p) for name, f in feats.items()
             for p in (["-"] if f.method == "none" else paths)]

    def call(name: str, path: str | None, out: torch.Tensor | None) -> None:
        f = feats[name]
        if path is None:
            f.gather(index, out=out)
        else:
            f.gather(index, out=out, kernel=path)

    results = []
    for t in threads:
        torch.set_num_threads(t)
        clock = _clock(t)
        for name, path in cases:  # warm-up: decode tables, kernel args, pages of the table
            call(name, path, buf)
        times: dict[tuple[str, str | None, bool], list[float]] = {}
        for _ in range(rounds):
            for name, path in cases:
                for use_out in (False, True):
                    sec = _time(lambda n=name, p=path, u=use_out: call(n, p, buf if u else None),
                                repeats, clock)
                    times.setdefault((name, path, use_out), []).append(sec)
        med = {k: statistics.median(v) for k, v in times.items()}
        load = load_average()  # beside this thread count's figures
        base, base_out = med[("fp32", None, False)], med[("fp32", None, True)]
        for name, path in cases:
            ms, ms_out = med[(name, path, False)], med[(name, path, True)]
            row = {"threads": t, "clock": "thread_cpu" if t == 1 else "wall", "setting": name,
                   "path": path or "index_select",
                   "compression_ratio": round(feats[name].compression_ratio, 2),
                   "ms": round(ms * 1e3, 2), "ms_out": round(ms_out * 1e3, 2),
                   "mrows_s_out": round(batch / ms_out / 1e6, 3),
                   "speedup": round(base / ms, 2), "speedup_out": round(base_out / ms_out, 2),
                   "ms_rounds_out": [round(s * 1e3, 1) for s in times[(name, path, True)]],
                   "loadavg": load, "load1": load[0] if load else None}
            results.append(row)
            log(" ".join(f"{row[c]!s:>12s}" for c in _COLS))
    torch.set_num_threads(1)
    return {"rows_n": rows, "dim": dim, "batch": batch, "rounds": rounds, "repeats": repeats,
            "loadavg_before": load_before, "loadavg_after": load_average(), "builds": builds,
            "rows": results}


_COLS = ("threads", "clock", "setting", "path", "compression_ratio", "ms", "speedup", "ms_out",
         "speedup_out", "mrows_s_out", "load1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--batch", type=int, default=200_000)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    threads = tuple(int(t) for t in args.threads.split(","))
    print(f"table {args.rows} x {args.dim} float32 ({args.rows * args.dim * 4 / 2**30:.2f} GiB), "
          f"gather {args.batch} random rows; threads {threads}; median over {args.rounds} "
          f"interleaved rounds (each the best of {args.repeats}); 1 thread: thread CPU time, "
          f"more threads: wall time; load average {load_average()}")
    print(" ".join(f"{c:>12s}" for c in _COLS))
    res = gather_benchmark(args.rows, args.dim, args.batch, rounds=args.rounds,
                           repeats=args.repeats, seed=args.seed, threads=threads,
                           log=lambda s: print(s, flush=True))
    print(f"load average before {res['loadavg_before']}, after {res['loadavg_after']} "
          f"(1, 5, 15 min; {os.cpu_count()} cores)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()

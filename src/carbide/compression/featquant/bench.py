"""Speed measurements of BiFeat's feature path (used by ``carbide bifeat bench`` and
``benchmarks/featquant_*.py``; figures are printed and reported, never asserted in tests)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["GATHER_SETTINGS", "gather_benchmark"]

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

    from ._dense import DenseFeatures
    from .quantized import quantize

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

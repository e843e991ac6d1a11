"""Speed measurements of BiFeat's feature path (used by ``carbide bifeat bench`` and
``benchmarks/featquant_*.py``; figures are printed and reported, never asserted in tests)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["EPOCH_SETTINGS", "GATHER_SETTINGS", "epoch_benchmark", "gather_benchmark"]

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


#: (name, quantize kwargs) of the epoch benchmark; ``None`` = fp32.
EPOCH_SETTINGS: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("fp32", None),
    ("SQ4", {"method": "sq", "bits": 4}),
    ("SQ1", {"method": "sq", "bits": 1}),
    ("VQ(16,256)", {"method": "vq", "width": 16, "codebook": 256}),
)


def epoch_benchmark(
    num_nodes: int = 2_000_000,
    dim: int = 128,
    *,
    epochs: int = 2,
    train_fraction: float = 0.05,
    batch_size: int = 1024,
    seed: int = 0,
    threads: int = 1,
    device: str = "cpu",
    settings: tuple[tuple[str, dict[str, Any] | None], ...] = EPOCH_SETTINGS,
    report: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Whole training epochs on a synthetic power-law graph, fp32 against quantized features.

    GraphSAGE (3 layers, fan-outs 15,10,5) on :func:`synthetic_node_task`; the median epoch
    time (evaluation excluded) is split into sampling, feature gather (+ dequantize) and
    compute. Validation/test are cut to 10,000 nodes each so the final evaluation stays short.

    Returns:
        One dict per setting: ``setting, compression_ratio, feature_mb, build_s, epoch_s,
        sample_s, gather_s, compute_s, speedup`` (fp32 epoch / this epoch).
    """
    import torch

    from ._dense import DenseFeatures
    from .quantized import quantize
    from .synthetic import synthetic_node_task
    from .train import TrainConfig, train_node_classifier

    torch.set_num_threads(threads)
    data = synthetic_node_task(num_nodes, dim, seed=seed, train_fraction=train_fraction,
                               val_fraction=0.01)
    gen = torch.Generator().manual_seed(seed)
    for mask in ("val_mask", "test_mask"):
        ids = getattr(data, mask).nonzero().reshape(-1)
        keep = ids[torch.randperm(ids.numel(), generator=gen)[:10_000]]
        small = torch.zeros(num_nodes, dtype=torch.bool)
        small[keep] = True
        setattr(data, mask, small)
    x = data.x
    results: list[dict[str, Any]] = []
    base = None
    for name, kwargs in settings:
        t0 = time.perf_counter()
        feats = DenseFeatures(x) if kwargs is None else quantize(x, seed=seed, **kwargs)
        built = time.perf_counter() - t0
        cfg = TrainConfig(epochs=epochs, batch_size=batch_size, seed=seed, device=device,
                          eval_every=0)
        res = train_node_classifier(data, feats, cfg, progress=False)
        hist = res.history
        n = len(hist)
        epoch_s = res.epoch_time_s
        base = base or epoch_s
        row = {
            "setting": name, "compression_ratio": round(feats.compression_ratio, 2),
            "feature_mb": round(feats.nbytes / 2**20, 1), "build_s": round(built, 1),
            "epoch_s": round(epoch_s, 2),
            "sample_s": round(sum(h["sample_s"] for h in hist) / n, 2),
            "gather_s": round(sum(h["gather_s"] for h in hist) / n, 2),
            "compute_s": round(sum(h["compute_s"] for h in hist) / n, 2),
            "speedup": round(base / epoch_s, 2), "test_acc": round(res.test_acc, 4),
        }
        results.append(row)
        if report is not None:
            report(row)
        del feats
    return results

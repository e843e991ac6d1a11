"""Training-epoch time of BiFeat on a synthetic power-law graph: fp32 vs quantized features.

Usage: python benchmarks/bifeat_epoch.py [--nodes 2000000] [--epochs 2]

GraphSAGE (fan-outs 15,10,5, batch 1024) on a >= 2M-node Chung-Lu graph with 128 Gaussian
features; prints the median epoch time split into sampling, gather (+ dequantize) and compute,
and the speed-up over fp32. See epoch_benchmark below.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")


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

    from carbide.compression.featquant import (
        DenseFeatures,
        TrainConfig,
        quantize,
        synthetic_node_task,
        train_node_classifier,
    )

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2_000_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-fraction", type=float, default=0.05)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cols = ("setting", "compression_ratio", "feature_mb", "build_s", "epoch_s", "sample_s",
            "gather_s", "compute_s", "speedup", "test_acc")
    print(f"{args.nodes} nodes x {args.dim} features, {args.epochs} epochs, device {args.device}")
    print(" ".join(f"{c:>17s}" for c in cols))
    epoch_benchmark(args.nodes, args.dim, epochs=args.epochs, device=args.device,
                    train_fraction=args.train_fraction, seed=args.seed,
                    report=lambda r: print(" ".join(f"{r[c]!s:>17s}" for c in cols),
                                           flush=True))


if __name__ == "__main__":
    main()

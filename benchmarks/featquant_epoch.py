"""Training-epoch time of BiFeat on a synthetic power-law graph: fp32 vs quantized features.

Usage: python benchmarks/featquant_epoch.py [--nodes 2000000] [--epochs 2]

GraphSAGE (fan-outs 15,10,5, batch 1024) on a >= 2M-node Chung-Lu graph with 128 Gaussian
features; prints the median epoch time split into sampling, gather (+ dequantize) and compute,
and the speed-up over fp32. See carbide.compression.featquant.bench.epoch_benchmark.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    from carbide.compression.featquant.bench import epoch_benchmark

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

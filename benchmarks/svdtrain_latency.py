"""CPU inference latency of low-rank (compacted) models against the dense original.

Truncates an (untrained) ResNet-20 and the small Fashion-MNIST CNN by SVD at several FLOPs
targets, compacts them to plain conv pairs, and times a forward pass with
torch.utils.benchmark (median, one thread). Latency does not depend on the trained weights,
so random ones suffice. Prints one table row per (model, target, batch).

Run: OMP_NUM_THREADS=1 python benchmarks/svdtrain_latency.py [--threads 1] [--time 1.0]
"""

from __future__ import annotations

import argparse

import torch

from carbide.compression.lowrank import (
    SmallBNCNN,
    compact,
    count_flops,
    count_params,
    measure_latency,
    resnet20,
    truncate_svd_to_flops,
)
from carbide.results import markdown_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--time", type=float, default=1.0, help="seconds of timing per model")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for name, model, shape in (("resnet20", resnet20(), (3, 32, 32)),
                               ("smallcnn", SmallBNCNN(), (1, 28, 28))):
        model.eval()
        f0 = count_flops(model, shape)
        for target in (1.0, 1.5, 2.0, 3.0):
            deployed = model if target == 1.0 else compact(
                truncate_svd_to_flops(model, shape, f0 / target)[0])
            for batch in (1, 32):
                t = measure_latency(deployed, shape, batch=batch, threads=args.threads,
                                    min_run_time=args.time)
                base = measure_latency(model, shape, batch=batch, threads=args.threads,
                                       min_run_time=args.time) if target != 1.0 else t
                rows.append({"model": name, "flops_target": target,
                             "flops_reduction": f0 / count_flops(deployed, shape),
                             "params": count_params(deployed), "batch": batch,
                             "latency_ms": t * 1e3, "speedup": base / t})
                print(rows[-1], flush=True)
    print(markdown_table(rows))


if __name__ == "__main__":
    main()

"""ScaleNAS speed figures: supernet training step time and subnet CPU latency.

Prints measured figures (never asserted). Run with OMP_NUM_THREADS set as you deploy; on a
shared machine the numbers are inflated by the load.

    python benchmarks/scalenas_supernet.py [--width 8] [--size 64] [--batch 16]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from carbide.nas.scale import FlopsTable, GroupedSampler, ScaleNet, ScaleSpace
from carbide.nas.scale.train import task_loss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    space = ScaleSpace(width=args.width, depth_range=(2, 5))
    net = ScaleNet(space, 6)
    flops = FlopsTable(net, (args.size, args.size))
    sampler = GroupedSampler(space)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, 6, (args.batch, args.size, args.size))
    times = []
    for _ in range(args.steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        for _, arch in sampler.next():  # sandwich: largest, smallest, one group sample
            task_loss(net(x, arch), y, "seg").backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    print(f"supernet step (3 subnets, batch {args.batch}, {args.size}px, W={args.width}): "
          f"{np.median(times[1:]) * 1000:.1f} ms median of {args.steps}")
    net.eval()
    rng = np.random.default_rng(0)
    one = torch.randn(1, 3, args.size, args.size)
    for name, arch in [("largest (HRNet-like)", space.largest()),
                       ("smallest", space.smallest())] + [
            (f"random {i}", space.sample(rng)) for i in range(2)]:
        sub = net.export(arch).eval()
        lat = []
        with torch.no_grad():
            for _ in range(11):
                t0 = time.perf_counter()
                sub(one)
                lat.append(time.perf_counter() - t0)
        print(f"{name:22s} {flops(arch) / 1e6:7.2f} MFLOPs  latency {np.median(lat[1:]) * 1e3:6.2f}"
              f" ms (batch 1, median of 10)")


if __name__ == "__main__":
    main()

"""Time every dataset loader on the real files: first load (cold cache) and repeated loads.

Usage: CARBIDE_DATA=../shared/data python benchmarks/datasets_load.py [--repeats 3]
Prints one row per dataset: cold seconds, median warm seconds, and what was loaded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def _loaders():
    from carbide import datasets as d

    return {
        "cora": lambda: d.load_planetoid("cora"),
        "citeseer": lambda: d.load_planetoid("citeseer"),
        "fashion-mnist/train": lambda: d.load_fashion_mnist("train"),
        "cifar10/train": lambda: d.load_cifar10("train"),
        "cifar10/test": lambda: d.load_cifar10("test"),
        "femnist": lambda: d.load_femnist(),
        "nasbench201": lambda: d.NASBench201.load(),
        "nasbench101": lambda: d.NASBench101.load(),
        "pv-system50 (1h)": lambda: d.load_pv("system50"),
        "serf-east (1h)": lambda: d.load_pv("serf-east"),
        "openfoam-buildings": lambda: d.load_openfoam_buildings(),
    }


def _describe(obj) -> str:
    for attr in ("images", "x", "values"):
        value = getattr(obj, attr, None)
        if value is not None and hasattr(value, "shape"):
            return f"{attr} {tuple(value.shape)}"
    if hasattr(obj, "shape"):
        return f"frame {tuple(obj.shape)}"
    if hasattr(obj, "train"):
        return f"{len(obj.train)} clients"
    return f"{len(obj)} entries"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ["CARBIDE_CACHE"] = tempfile.mkdtemp(prefix="carbide-bench-cache-")
    print(f"{'dataset':22s} {'cold_s':>8s} {'warm_med_s':>10s}  loaded")
    for name, load in _loaders().items():
        t0 = time.perf_counter()
        obj = load()
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            load()
            warm.append(time.perf_counter() - t0)
        print(f"{name:22s} {cold:8.3f} {statistics.median(warm):10.3f}  {_describe(obj)}")


if __name__ == "__main__":
    main()

"""ScaleNAS quickstart: search a FLOPs-bounded dense predictor on your own images.

Usage:
    python examples/scalenas_quickstart.py [FOLDER NUM_CLASSES]

FOLDER holds images/<name>.png|jpg and masks/<name>.png (class ids, 0 = background). Without
arguments a tiny composed task (Fashion-MNIST/CIFAR-10 objects pasted at many scales) from
$CARBIDE_DATA is used. Minutes on a laptop CPU.
"""

from __future__ import annotations

import sys

from carbide.nas import run_search
from carbide.nas.scale import (
    ComposedConfig,
    FlopsTable,
    GroupedSampler,
    ParetoEvolution,
    ScaleNet,
    ScaleSpace,
    SupernetEvaluator,
    TrainConfig,
    compose_dataset,
    evaluate,
    load_folder_segmentation,
    pareto_front,
    train_supernet,
)


def main() -> None:
    if len(sys.argv) == 3:
        data = load_folder_segmentation(sys.argv[1], int(sys.argv[2]), size=64)
        n_val = max(1, len(data) // 5)
        train, val = data.subset(slice(n_val, None)), data.subset(slice(0, n_val))
    else:
        cfg = ComposedConfig(size=64, labels="coarse")
        train = compose_dataset(300, "train", cfg)
        val = compose_dataset(64, "val", cfg)
    space = ScaleSpace(width=8, depth_range=(1, 3))
    supernet = ScaleNet(space, train.num_classes)
    train_supernet(supernet, train, "seg", GroupedSampler(space), TrainConfig(steps=30))
    flops = FlopsTable(supernet, train.size)
    budget = 0.6 * flops(space.largest())
    evaluator = SupernetEvaluator(supernet, val, train, "seg", flops, calib_images=64)
    history = run_search(ParetoEvolution(space, flops, budget, population=4), evaluator, 8)
    items = [{"arch": a, "flops": r["flops"], "miou": r["val_acc"]}
             for a, r in zip(history.cells, history.records, strict=True)]
    for item in pareto_front(items, "miou"):
        print(f"{item['flops'] / 1e6:7.2f} MFLOPs  mIoU {item['miou']:.2f}")
    best = max(items, key=lambda it: it["miou"])
    net = supernet.export(best["arch"])  # deployable, with the supernet's weights
    # BN statistics are shared in the supernet: re-estimate them for this subnet first
    print("exported ScaleNet:", evaluate(net, val, "seg", calib=train, calib_images=64))


if __name__ == "__main__":
    main()

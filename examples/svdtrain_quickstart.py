"""SVD training in a few lines: any model -> SVD form -> regularized training -> pruned,
compacted model of plain layers.

Run: CARBIDE_DATA=../shared/data python examples/svdtrain_quickstart.py
"""

from __future__ import annotations

from carbide.compression.lowrank import (
    SmallBNCNN,
    SVDRegularizer,
    compact,
    count_flops,
    decompose,
    evaluate,
    load_image_task,
    prune_,
    train_epochs,
)


def main() -> None:
    task = load_image_task("fashion-mnist", train_subset=5000)
    model = SmallBNCNN()                       # or your own nn.Module
    flops = count_flops(model, task.input_shape)
    print(decompose(model, mode="channel", init="random"))   # lists what it skipped and why
    train_epochs(model, task, 2, regularizer=SVDRegularizer("none", 0.0, orth=1.0))
    train_epochs(model, task, 2, regularizer=SVDRegularizer("hoyer", strength=0.1, orth=1.0))
    ranks = prune_(model, energy=0.02)       # layer -> (kept, full)
    train_epochs(model, task, 1, regularizer=SVDRegularizer("none", 0.0, orth=1.0),
                 schedule="cosine")
    deployed = compact(model)                # plain nn.Conv2d / nn.Linear pairs
    print({k: f"{a}/{b}" for k, (a, b) in ranks.items()})
    print(f"test accuracy {evaluate(deployed, task.x_test, task.y_test):.3f}, "
          f"{flops / count_flops(deployed, task.input_shape):.2f}x fewer FLOPs")


if __name__ == "__main__":
    main()

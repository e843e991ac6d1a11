"""``carbide scalenas``: search a multi-scale supernet, train a found ScaleNet, reproduce."""

from __future__ import annotations

import click

from ...results import add_repro_commands

__all__ = ["scalenas"]


@click.group()
def scalenas() -> None:
    """ScaleNAS (arXiv 2011.14584): one-shot multi-scale supernet search for dense
    prediction (segmentation, keypoints) under a FLOPs budget."""


def _config(task, data, quick, flops_budget, num_classes, image_size, seed, steps=None):
    from dataclasses import replace

    from . import QUICK_SEARCH, ScaleNASConfig, TrainConfig

    cfg = ScaleNASConfig(task=task, data=data, flops_budget=flops_budget,
                         num_classes=num_classes, image_size=image_size, seed=seed,
                         **(QUICK_SEARCH if quick else {}))
    if steps is not None:
        cfg = replace(cfg, supernet=TrainConfig(steps=steps))
    return cfg


_DATA_HELP = ("composed (Fashion-MNIST/CIFAR-10 objects pasted at many scales), "
              "folder:PATH (images/ + masks/ PNG class ids) or coco:PATH (COCO keypoint JSON)")


@scalenas.command()
@click.option("--task", type=click.Choice(["seg", "keypoints"]), default="seg",
              show_default=True)
@click.option("--data", default="composed", show_default=True, help=_DATA_HELP)
@click.option("--flops-budget", type=float, default=None,
              help="GFLOPs per image the found nets must fit (default: none).")
@click.option("--quick", is_flag=True, help="A smaller supernet and search (minutes).")
@click.option("--num-classes", type=int, default=None,
              help="folder: data: classes including background.")
@click.option("--image-size", type=int, default=64, show_default=True,
              help="User data are resized to this side (multiple of 32).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def search(task, data, flops_budget, quick, num_classes, image_size, seed, out) -> None:
    """Train the supernet, run the FLOPs/accuracy evolution, write pareto.json."""
    from . import search_to_dir

    cfg = _config(task, data, quick, flops_budget, num_classes, image_size, seed)
    m = search_to_dir(cfg, out)["metrics"]
    name = "miou" if task == "seg" else "ap"
    click.echo(f"best {name} {m[f'best_{name}']:.2f} at {m['best_flops'] / 1e9:.4f} GFLOPs "
               f"(HRNet-like {m[f'hrnet_{name}']:.2f} at {m['hrnet_flops'] / 1e9:.4f}) -> "
               f"{out}/pareto.json")


@scalenas.command()
@click.argument("arch", type=click.Path(dir_okay=False, exists=True))
@click.option("--task", type=click.Choice(["seg", "keypoints"]), default="seg",
              show_default=True)
@click.option("--data", default="composed", show_default=True, help=_DATA_HELP)
@click.option("--quick", is_flag=True, help="The quick search's space and data sizes.")
@click.option("--steps", type=int, default=None, help="Training steps (default: the "
              "supernet's).")
@click.option("--num-classes", type=int, default=None)
@click.option("--image-size", type=int, default=64, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def train(arch, task, data, quick, steps, num_classes, image_size, seed, out) -> None:
    """Train the architecture in ARCH (JSON, e.g. best_arch.json) from scratch."""
    from . import train_to_dir

    cfg = _config(task, data, quick, None, num_classes, image_size, seed, steps)
    m = train_to_dir(arch, cfg, out)["metrics"]
    scores = ", ".join(f"{k} {m[k]:.2f}" for k in ("miou", "ap", "pck") if k in m)
    click.echo(f"{scores} at {m['flops'] / 1e9:.4f} GFLOPs -> {out}/model.pt")


add_repro_commands(
    scalenas, "scalenas",
    help="ScaleNets vs HRNet-like baselines (FLOPs vs mIoU / keypoint AP) and "
         "Kendall tau of grouped vs uniform sampling, on the composed task.",
    summary=lambda m: (f"ScaleNet-S mIoU {m['scalenet_s_miou']} vs HRNet-like "
                       f"{m['hrnet_miou']}; tau grouped {m['tau_grouped']} vs uniform "
                       f"{m['tau_uniform']}"))

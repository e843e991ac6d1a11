"""``carbide svdtrain``: train a low-rank network in SVD form, reproduce the paper's claim."""

from __future__ import annotations

import click

from ...results import add_repro_commands

__all__ = ["svdtrain"]


@click.group()
def svdtrain() -> None:
    """SVD training (arXiv 2004.09031): low-rank layers learned during training."""


@svdtrain.command()
@click.option("--model", type=click.Choice(["smallcnn", "resnet20"]), default="smallcnn",
              show_default=True)
@click.option("--dataset", type=click.Choice(["fashion-mnist", "cifar10"]),
              default="fashion-mnist", show_default=True)
@click.option("--mode", type=click.Choice(["channel", "spatial"]), default="channel",
              show_default=True, help="Conv decomposition.")
@click.option("--sparsity", type=click.Choice(["hoyer", "l1", "hoyer2", "none"]),
              default="hoyer", show_default=True, help="Singular-value regularizer.")
@click.option("--strength", type=float, default=0.1, show_default=True,
              help="lambda_s, the sparsity regularizer's weight.")
@click.option("--orth", type=float, default=1.0, show_default=True,
              help="lambda_o, the orthogonality regularizer's weight.")
@click.option("--energy", type=float, default=0.02, show_default=True,
              help="E in (0,1): energy share each layer may lose at pruning.")
@click.option("--epochs", default="4,4,2", show_default=True,
              help="Epochs of the three stages: orth-only, with sparsity, fine-tune.")
@click.option("--init", type=click.Choice(["random", "svd"]), default="random",
              show_default=True, help="Factors from scratch, or the SVD of the initial weight.")
@click.option("--train-subset", type=int, default=None,
              help="Train on this many images (class-balanced); default all.")
@click.option("--batch-size", type=int, default=128, show_default=True)
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam",
              show_default=True, help="sgd: Nesterov momentum 0.9 (the converged recipe).")
@click.option("--lr", type=float, default=1e-3, show_default=True,
              help="Learning rate of stages 1-2 (the peak of onecycle).")
@click.option("--schedule", type=click.Choice(["constant", "cosine", "onecycle"]),
              default="constant", show_default=True, help="Learning-rate schedule of stages 1-2.")
@click.option("--one-cycle", is_flag=True,
              help="Stages 1 and 2 share one schedule cycle (needs cosine or onecycle).")
@click.option("--weight-decay", type=float, default=0.0, show_default=True)
@click.option("--finetune-lr", type=float, default=None,
              help="Stage-3 learning rate, cosine to 0 (default: --lr).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]), default="fp32",
              show_default=True, help="bf16: autocast while training (faster on CPUs with "
                                      "AVX512-BF16 or AMX).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--save-model", is_flag=True,
              help="Also write the compacted model as DIR/model.pt2 (torch.export; loads with "
                   "torch.export.load, no carbide needed).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
def train(model, dataset, mode, sparsity, strength, orth, energy, epochs, init, train_subset,
          batch_size, optimizer, lr, schedule, one_cycle, weight_decay, finetune_lr, precision,
          seed, device, save_model, out) -> None:
    """Train MODEL on DATASET in SVD form, prune by energy, compact; report accuracy, FLOPs,
    parameters and CPU latency against the original.

    The converged ResNet-20 recipe of the reproduction: --model resnet20 --dataset cifar10
    --optimizer sgd --lr 0.1 --schedule onecycle --one-cycle --weight-decay 5e-4
    --finetune-lr 0.01 --precision bf16 --strength 0.005 --energy 0.01 --epochs 30,30,3.
    """
    from . import SVDTrainConfig, record_svd_training

    cfg = SVDTrainConfig(model=model, dataset=dataset, mode=mode, sparsity=sparsity,
                         strength=strength, orth=orth, energy=energy, epochs=epochs,
                         init=init, train_subset=train_subset, batch_size=batch_size,
                         optimizer=optimizer, lr=lr, schedule=schedule, one_cycle=one_cycle,
                         weight_decay=weight_decay, finetune_lr=finetune_lr,
                         precision=precision, seed=seed, device=device)
    row = record_svd_training(cfg, out, save_model=save_model)["rows"][0]
    click.echo(f"{model}/{dataset} {sparsity}: test_acc {row['test_acc']:.4f}, FLOPs "
               f"x{row['flops_reduction']:.2f}, params x{row['params_reduction']:.2f}, latency "
               f"x{row['latency_speedup']:.2f} -> {out}/results.json")


def _summary(m) -> str:
    h = m["svd_hoyer_flops_reduction_at_ref"]
    return (f"Hoyer: {'-' if h is None else f'{h:.2f}x'} FLOPs reduction within 0.5 pt of the "
            f"dense reference {100 * m['reference_acc']:.2f}%")


add_repro_commands(
    svdtrain, "svdtrain",
    help="Accuracy vs FLOPs reduction: Hoyer, L1, no regularizer, truncated SVD, "
         "filter pruning.", summary=_summary)

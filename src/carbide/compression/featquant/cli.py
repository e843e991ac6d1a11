"""``carbide bifeat``: train with quantized features, reproduce the paper's claim."""

from __future__ import annotations

import click

from ...results import add_repro_commands

__all__ = ["bifeat"]


@click.group()
def bifeat() -> None:
    """BiFeat (arXiv 2207.14696): quantized GNN input features (SQ / VQ)."""


@bifeat.command()
@click.option("--dataset", type=click.Choice(["cora", "citeseer"]), default="cora",
              show_default=True)
@click.option("--method", type=click.Choice(["none", "sq", "vq"]), default="sq",
              show_default=True, help="none = fp32 baseline.")
@click.option("--bits", type=int, default=1, show_default=True, help="SQ bits: 1,2,4,8,16.")
@click.option("--width", type=int, default=16, show_default=True, help="VQ sub-vector width.")
@click.option("--codebook", type=int, default=256, show_default=True, help="VQ centres.")
@click.option("--paper-sq", is_flag=True,
              help="SQ exactly as the paper: sign bit always, no zero code.")
@click.option("--fanout", default="15,10,5", show_default=True,
              help="Neighbours per hop from the seeds outward (the paper's 5,10,15 listed from "
                   "the input layer).")
@click.option("--epochs", type=int, default=50, show_default=True)
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--drop-edges", type=float, default=0.0, show_default=True,
              help="Fraction of undirected edges removed first.")
@click.option("--normalize-features", is_flag=True, help="Row-normalize features first.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def train(dataset, method, bits, width, codebook, paper_sq, fanout, epochs, batch_size,
          drop_edges, normalize_features, seed, device, out) -> None:
    """Train GraphSAGE on DATASET with features served from a (quantized) store."""
    from . import NodeClassificationConfig, record_node_classification

    cfg = NodeClassificationConfig(
        dataset=dataset, method=method, bits=bits, width=width, codebook=codebook,
        paper_sq=paper_sq, fanouts=fanout, epochs=epochs, batch_size=batch_size,
        drop_edges=drop_edges, normalize_features=normalize_features, seed=seed, device=device)
    row = record_node_classification(cfg, out)["rows"][0]
    click.echo(f"{dataset} {cfg.setting}: test_acc {row['test_acc']:.4f}, "
               f"compression {row['compression_ratio']:.1f}x, epoch {row['epoch_time_s']:.3f}s "
               f"-> {out}/results.json")


add_repro_commands(
    bifeat, "bifeat",
    help="Accuracy vs compression on Cora/CiteSeer and the density study.",
    summary=lambda m: f"Cora: {m['cora_best_30x_setting']} at {m['cora_best_30x_ratio']:.1f}x "
                      f"loses {m['cora_best_30x_loss_pts']:+.2f} pts vs fp32")

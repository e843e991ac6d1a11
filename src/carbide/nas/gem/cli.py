"""``carbide nasgem``: NASGEM search, embedding quality and the reproduction."""

from __future__ import annotations

import click

from ...results import add_repro_commands, format_value

__all__ = ["nasgem"]


@click.group()
def nasgem() -> None:
    """NASGEM (arXiv 2007.04452): NAS through WL-kernel-guided graph embeddings
    (the agreed reconstruction; no official code exists)."""


@nasgem.command()
@click.option("--space", "space_spec", default="nb201", show_default=True,
              help="nb201, nb101 (the 500-cell table) or cell:N (N nodes, trained).")
@click.option("--benchmark", type=click.Path(dir_okay=False), default=None,
              help="Benchmark file (NAS-Bench-201 pickle / NASLib NAS-Bench-101 JSON); "
                   "default: the shipped table under $CARBIDE_DATA.")
@click.option("--strategy", default="nasgem", show_default=True,
              type=click.Choice(["nasgem", "nasgem-onehot", "rea", "random"]))
@click.option("--budget", type=click.IntRange(min=1), default=150, show_default=True,
              help="Queries per seed.")
@click.option("--seeds", type=click.IntRange(min=1), default=10, show_default=True,
              help="Runs with seeds 0..K-1 (from --seed).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="First seed.")
@click.option("--n-init", type=int, default=20, show_default=True,
              help="NASGEM: random cells before the first predictor.")
@click.option("--top-k", type=int, default=10, show_default=True,
              help="NASGEM: cells evaluated per round.")
@click.option("--cost-weight", type=float, default=0.0, show_default=True,
              help="NASGEM: lambda of the params term (accuracy points).")
@click.option("--encoder-cells", type=int, default=1000, show_default=True,
              help="NASGEM: unlabelled cells the encoder pre-trains on.")
@click.option("--encoder-steps", type=int, default=600, show_default=True,
              help="NASGEM: encoder training steps.")
@click.option("--train-steps", type=int, default=30, show_default=True,
              help="cell:N: SGD steps of the Fashion-MNIST training evaluator.")
@click.option("--out", required=True, type=click.Path(file_okay=False))
def search(space_spec, benchmark, strategy, budget, seeds, seed, n_init, top_k, cost_weight,
           encoder_cells, encoder_steps, train_steps, out) -> None:
    """Search SPACE with STRATEGY for BUDGET queries, K seeds; best val acc and regret."""
    from . import EncoderConfig, NASGEMConfig, run_strategy_search

    cfg = NASGEMConfig(n_init=n_init, top_k=top_k, cost_weight=cost_weight,
                       encoder_cells=encoder_cells, encoder=EncoderConfig(steps=encoder_steps))
    m = run_strategy_search(out, space=space_spec, strategy=strategy, budget=budget,
                            seeds=seeds, seed=seed, nasgem=cfg, benchmark=benchmark,
                            train_steps=train_steps)["metrics"]
    regret = "" if m["regret"] is None else (
        f", regret {m['regret']:.3f} +- {format_value(m['regret_sd'], '.3f')}")
    click.echo(f"{strategy} on {space_spec}: best val acc {m['best_val_acc']:.3f} "
               f"+- {format_value(m['best_val_acc_sd'], '.3f')}{regret} at {budget} queries "
               f"-> {out}/results.json")


@nasgem.command()
@click.option("--space", "space_spec", default="nb201", show_default=True,
              help="nb201, nb101 or cell:N.")
@click.option("--benchmark", type=click.Path(dir_okay=False), default=None,
              help="Benchmark file for nb201/nb101 (default: the shipped table).")
@click.option("--train-cells", type=int, default=1000, show_default=True)
@click.option("--heldout-cells", type=int, default=300, show_default=True)
@click.option("--steps", type=int, default=600, show_default=True,
              help="Encoder training steps.")
@click.option("--wl-h", type=int, default=3, show_default=True, help="WL refinement steps.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def embed(space_spec, benchmark, train_cells, heldout_cells, steps, wl_h, seed, out) -> None:
    """Train the WL-similarity encoder; Spearman/Kendall on held-out pairs vs one-hot."""
    from . import EncoderConfig, run_embedding

    cfg = EncoderConfig(steps=steps, h=wl_h, layers=max(wl_h, 1))
    m = run_embedding(out, space=space_spec, config=cfg, train_cells=train_cells,
                      heldout_cells=heldout_cells, seed=seed, benchmark=benchmark)["metrics"]
    click.echo(f"{space_spec}: encoder spearman {m['spearman']:.3f} kendall "
               f"{m['kendall']:.3f}; one-hot spearman {m['onehot_spearman']:.3f} kendall "
               f"{m['onehot_kendall']:.3f} -> {out}/results.json")


add_repro_commands(
    nasgem, "nasgem",
    help="Embedding quality, predictor rank correlation, search efficiency on NB201 "
         "and NB101, and a large-cell search with the training evaluator.",
    summary=lambda m: (f"NB201 regret at {m['nb201_budget']} queries: NASGEM "
                       f"{m['nb201_regret_nasgem']:.3f}, REA {m['nb201_regret_rea']:.3f}, "
                       f"random {m['nb201_regret_random']:.3f}; embedding spearman "
                       f"{m['embed_spearman']:.3f} (one-hot {m['embed_onehot_spearman']:.3f})"))

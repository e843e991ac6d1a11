"""``carbide nasgem``: NASGEM search, embedding quality and the reproduction."""

from __future__ import annotations

import click

__all__ = ["nasgem"]


@click.group()
def nasgem() -> None:
    """NASGEM (arXiv 2007.04452): NAS through WL-kernel-guided graph embeddings
    (the agreed reconstruction; no official code exists)."""


def _space(spec: str, benchmark: str | None):
    from ..spaces import make_space
    from .experiment import load_benchmark

    bench = load_benchmark(spec, benchmark)
    return make_space(spec, bench=bench), bench


def _evaluator_factory(spec: str, bench, train_steps: int, channels: int = 16):
    from ..evaluators import TrainingEvaluator, make_evaluator

    if bench is not None:
        return lambda seed: make_evaluator(spec, bench)
    shared: dict = {}

    def factory(seed: int):
        if "data" not in shared:  # load Fashion-MNIST once for every run
            shared["data"] = TrainingEvaluator(max_steps=train_steps, channels=channels).data()
        return TrainingEvaluator(max_steps=train_steps, channels=channels, data=shared["data"])

    return factory


@nasgem.command()
@click.option("--space", "space_spec", default="nb201", show_default=True,
              help="nb201, nb101 (the 500-cell table) or cell:N (N nodes, trained).")
@click.option("--benchmark", type=click.Path(dir_okay=False), default=None,
              help="Benchmark file (NAS-Bench-201 pickle / NASLib NAS-Bench-101 JSON); "
                   "default: the shipped table under $CARBIDE_DATA.")
@click.option("--strategy", type=click.Choice(["nasgem", "rea", "random"]), default="nasgem",
              show_default=True)
@click.option("--budget", type=int, default=150, show_default=True, help="Queries per seed.")
@click.option("--seeds", type=int, default=10, show_default=True,
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
    from ..._validate import check_int
    from ...results import Report, RunRecorder
    from .experiment import compare_strategies
    from .repro import curve_figure
    from .search import NASGEMConfig

    check_int("--budget", budget, 1)
    check_int("--seeds", seeds, 1)
    from .encoder import EncoderConfig

    cfg = NASGEMConfig(n_init=n_init, top_k=top_k, cost_weight=cost_weight,
                       encoder_cells=encoder_cells,
                       encoder=EncoderConfig(steps=encoder_steps))
    space, bench = _space(space_spec, benchmark)
    config = {"space": space_spec, "benchmark": benchmark, "strategy": strategy,
              "budget": budget, "seeds": list(range(seed, seed + seeds)),
              "nasgem": cfg if strategy == "nasgem" else None,
              "train_steps": train_steps if bench is None else None}
    recorder = RunRecorder(out, system="nasgem", config=config)
    result = compare_strategies(
        space, _evaluator_factory(space_spec, bench, train_steps, 16), strategies=[strategy],
        budget=budget, seeds=list(range(seed, seed + seeds)), nasgem=cfg)
    summary = result.summary()[0]
    metrics = {"best_val_acc": summary["best_val_acc_mean"],
               "best_val_acc_sd": summary["best_val_acc_sd"],
               "regret": summary.get("regret_mean"), "regret_sd": summary.get("regret_sd"),
               "queries": budget, "optimum": result.optimum}
    recorder.save_figure(curve_figure(result, f"{strategy} on {space_spec}"), "curve.png")
    report = (Report(f"NASGEM search: {strategy} on {space_spec}, {budget} queries, "
                     f"{seeds} seeds")
              .paragraph("The agreed reconstruction of NASGEM (arXiv 2007.04452); no official "
                         "code exists.")
              .table([summary]).heading("Per seed").table(result.rows)
              .image("curve.png", "best validation accuracy vs queries"))
    recorder.finish(metrics=metrics, rows=result.rows, report=report)
    regret = "" if metrics["regret"] is None else (
        f", regret {metrics['regret']:.3f} +- {metrics['regret_sd']:.3f}")
    click.echo(f"{strategy} on {space_spec}: best val acc {metrics['best_val_acc']:.3f} "
               f"+- {metrics['best_val_acc_sd']:.3f}{regret} at {budget} queries -> "
               f"{out}/results.json")


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
    from ...results import Report, RunRecorder
    from .encoder import EncoderConfig
    from .experiment import embedding_experiment

    cfg = EncoderConfig(steps=steps, h=wl_h, layers=max(wl_h, 1))
    space, _ = _space(space_spec, benchmark)
    recorder = RunRecorder(out, system="nasgem", config={
        "space": space_spec, "benchmark": benchmark, "train_cells": train_cells,
        "heldout_cells": heldout_cells, "encoder": cfg, "seed": seed})
    res = embedding_experiment(space, train_cells=train_cells, heldout_cells=heldout_cells,
                               config=cfg, seed=seed)
    metrics = {k: res[k] for k in ("spearman", "kendall", "onehot_spearman", "onehot_kendall",
                                   "pairs", "train_s")}
    rows = [{"encoding": "NASGEM encoder (WL-trained GIN)", "spearman": res["spearman"],
             "kendall": res["kendall"]},
            {"encoding": "one-hot adjacency + ops", "spearman": res["onehot_spearman"],
             "kendall": res["onehot_kendall"]}]
    report = (Report(f"NASGEM embedding quality on {space_spec}")
              .paragraph(f"Correlation between embedding cosine similarity and the normalized "
                         f"WL kernel (h={wl_h}) over {res['pairs']} pairs of "
                         f"{res['heldout_cells']} held-out cells; the encoder trained on "
                         f"{res['train_cells']} other cells ({steps} steps, "
                         f"{res['train_s']:.1f} s).")
              .table(rows))
    recorder.finish(metrics=metrics, rows=rows, report=report)
    click.echo(f"{space_spec}: encoder spearman {res['spearman']:.3f} kendall "
               f"{res['kendall']:.3f}; one-hot spearman {res['onehot_spearman']:.3f} kendall "
               f"{res['onehot_kendall']:.3f} -> {out}/results.json")


@nasgem.command()
@click.option("--quick", is_flag=True, help="Fewer seeds and cells (minutes on 2 cores).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def repro(quick: bool, seed: int, out: str) -> None:
    """Embedding quality, predictor rank correlation, search efficiency on NB201 and NB101,
    and a large-cell search with the training evaluator."""
    from .repro import run_repro

    m = run_repro(out, quick=quick, seed=seed)["metrics"]
    click.echo(f"NB201 regret at {m['nb201_budget']} queries: NASGEM "
               f"{m['nb201_regret_nasgem']:.3f}, REA {m['nb201_regret_rea']:.3f}, random "
               f"{m['nb201_regret_random']:.3f}; embedding spearman {m['embed_spearman']:.3f} "
               f"(one-hot {m['embed_onehot_spearman']:.3f}) -> {out}/report.md")

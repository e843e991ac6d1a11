"""``carbide bifeat``: train with quantized features, reproduce the paper's claim, benchmark."""

from __future__ import annotations

import click

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
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def train(dataset, method, bits, width, codebook, paper_sq, fanout, epochs, batch_size,
          drop_edges, normalize_features, seed, device, out) -> None:
    """Train GraphSAGE on DATASET with features served from a (quantized) store."""
    from ...cli._parse import int_list
    from ...results import Report, RunRecorder
    from .experiment import RunConfig, run_node_classification

    fanouts = int_list("--fanout", fanout, "neighbours per hop such as 15,10,5")
    cfg = RunConfig(dataset=dataset, method=method, bits=bits, width=width, codebook=codebook,
                    paper_sq=paper_sq, fanouts=fanouts,
                    epochs=epochs, batch_size=batch_size, drop_edges=drop_edges,
                    normalize_features=normalize_features, seed=seed, device=device)
    recorder = RunRecorder(out, system="bifeat", config=cfg)
    row = run_node_classification(cfg)
    metrics = {k: row[k] for k in ("test_acc", "val_acc", "compression_ratio", "feature_bytes",
                                   "epoch_time_s")}
    report = Report(f"BiFeat train: {dataset}, {cfg.setting}").table([row])
    recorder.finish(metrics=metrics, rows=[row], report=report)
    click.echo(f"{dataset} {cfg.setting}: test_acc {row['test_acc']:.4f}, "
               f"compression {row['compression_ratio']:.1f}x, epoch {row['epoch_time_s']:.3f}s "
               f"-> {out}/results.json")


@bifeat.command()
@click.option("--quick", is_flag=True, help="Fewer settings, epochs and density points.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def repro(quick: bool, seed: int, out: str) -> None:
    """Accuracy vs compression on Cora/CiteSeer and the density study (3 seeds)."""
    from .repro import run_repro

    m = run_repro(out, quick=quick, seed=seed)["metrics"]
    click.echo(f"Cora: {m['cora_best_30x_setting']} at {m['cora_best_30x_ratio']:.1f}x loses "
               f"{m['cora_best_30x_loss_pts']:+.2f} pts vs fp32 -> {out}/report.md")


@bifeat.command()
@click.option("--rows", type=int, default=4_000_000, show_default=True)
@click.option("--dim", type=int, default=128, show_default=True)
@click.option("--batch", type=int, default=200_000, show_default=True)
@click.option("--repeats", type=int, default=7, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def bench(rows: int, dim: int, batch: int, repeats: int, seed: int, out: str) -> None:
    """Gather + dequantize throughput against fp32 index_select (one thread)."""
    from ...results import Report, RunRecorder
    from .bench import gather_benchmark

    config = {"rows": rows, "dim": dim, "batch": batch, "repeats": repeats, "seed": seed}
    recorder = RunRecorder(out, system="bifeat", config=config)
    table = gather_benchmark(rows, dim, batch, repeats=repeats, seed=seed,
                             report=lambda r: click.echo(r))
    best = max(table[1:], key=lambda r: r["speedup"])
    metrics = {"fp32_mrows_s": table[0]["mrows_s"], "best_setting": best["setting"],
               "best_speedup": best["speedup"], "best_speedup_out": best["speedup_out"]}
    report = Report("BiFeat gather benchmark").paragraph(
        f"{batch} random rows of a {rows} x {dim} float32 table, one thread, median of "
        f"{repeats}. `speedup`: vs fp32 index_select allocating its output; `speedup_out`: "
        f"both writing into a reused buffer.").table(table)
    recorder.finish(metrics=metrics, rows=table, report=report)

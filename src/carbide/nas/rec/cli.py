"""``carbide nasrec``: weight-sharing NAS for CTR models (arXiv 2207.07187)."""

from __future__ import annotations

import click

from ...results import add_repro_commands

__all__ = ["nasrec"]


@click.group()
def nasrec() -> None:
    """NASRec: supernet search for CTR models on MovieLens-100k, Criteo, Avazu or a CSV."""


def _columns(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _options(f):
    options = [
        click.option("--data", default="movielens-100k", show_default=True,
                     help="movielens-100k | criteo:PATH | avazu:PATH | csv:PATH"),
        click.option("--label", default=None, help="The click column (csv)."),
        click.option("--sparse", default=None, help="csv: comma-separated sparse columns."),
        click.option("--dense", default=None, help="csv: comma-separated dense columns."),
        click.option("--max-rows", type=click.IntRange(min=10), default=None,
                     help="Read at most this many rows (subsample MovieLens)."),
        click.option("--max-table-size", type=click.IntRange(min=2), default=1_000_000,
                     show_default=True,
                     help="Embedding-table cap; bigger vocabularies are hashed."),
        click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True),
        click.option("--lr", type=float, default=0.12, show_default=True, help="Adagrad lr."),
        click.option("--batch-size", type=click.IntRange(min=1), default=512,
                     show_default=True),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True),
        click.option("--root", default=None, type=click.Path(file_okay=False),
                     help="Data root (default: $CARBIDE_DATA)."),
        click.option("--out", required=True, type=click.Path(file_okay=False)),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@nasrec.command()
@_options
@click.option("--space", type=click.Choice(["small", "full"]), default="small",
              show_default=True)
@click.option("--budget", type=click.IntRange(min=1), default=64, show_default=True,
              help="Subnets scored by the search.")
@click.option("--strategy", type=click.Choice(["rea", "random"]), default="rea",
              show_default=True)
@click.option("--population", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--supernet-epochs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--paper-widths", is_flag=True,
              help="The paper's widths (dense up to 1024, 16-64 tokens, 8 merger tokens) "
                   "instead of the CPU-scaled ones.")
@click.option("--baselines", default="lr,fm,deepfm,dlrm,dcnv2", show_default=True,
              help="Comma-separated baselines trained beside ('' for none).")
def search(data, label, sparse, dense, max_rows, max_table_size, epochs, lr, batch_size, seed,
           root, out, space, budget, strategy, population, supernet_epochs, paper_widths,
           baselines) -> None:
    """Train the supernet, search, retrain the best from scratch; writes best_arch.json."""
    from . import NASRecConfig, search_to_dir

    widths = ({"dense_dims": None, "sparse_dims": None, "merger_tokens": 8} if paper_widths
              else {})
    cfg = NASRecConfig(data=data, label=label, sparse=_columns(sparse), dense=_columns(dense),
                       max_rows=max_rows, max_table_size=max_table_size, space=space,
                       budget=budget, strategy=strategy, population=min(population, budget),
                       sample_size=min(4, population, budget),
                       supernet_epochs=supernet_epochs, epochs=epochs, lr=lr,
                       batch_size=batch_size, baselines=_columns(baselines) or (), seed=seed,
                       **widths)
    m = search_to_dir(cfg, out, root=root, progress=True)["metrics"]
    click.echo(f"searched NASRec-{space}: test logloss {m['test_logloss']:.4f}, AUC "
               f"{m['test_auc']:.4f} -> {out}/best_arch.json")


@nasrec.command()
@click.argument("arch", type=click.Path(dir_okay=False, exists=True))
@_options
def train(arch, data, label, sparse, dense, max_rows, max_table_size, epochs, lr, batch_size,
          seed, root, out) -> None:
    """Train ARCH (a best_arch.json) from scratch and report test logloss and AUC."""
    from . import NASRecConfig, train_to_dir

    cfg = NASRecConfig(data=data, label=label, sparse=_columns(sparse), dense=_columns(dense),
                       max_rows=max_rows, max_table_size=max_table_size, epochs=epochs, lr=lr,
                       batch_size=batch_size, seed=seed, baselines=(), budget=16, population=16)
    m = train_to_dir(arch, cfg, out, root=root)
    click.echo(f"test logloss {m['test_logloss']:.4f}, AUC {m['test_auc']:.4f} -> "
               f"{out}/results.json")


add_repro_commands(
    nasrec, "nasrec",
    help="NASRec-Small/-Full vs LR, FM, DeepFM, DLRM, DCN-v2 on MovieLens-100k; "
         "rank correlation of supernet scores.",
    summary=lambda m: (f"NASRec-Small {m['test_logloss']:.4f} vs best baseline "
                       f"{m['best_baseline']} {m['best_baseline_test_logloss']:.4f}"))

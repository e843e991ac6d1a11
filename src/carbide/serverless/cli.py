"""``carbide smlt``: serverless training under a deadline and a budget (arXiv 2205.01853)."""

from __future__ import annotations

import click

from ..results import add_repro_commands

__all__ = ["smlt"]


@click.group()
def smlt() -> None:
    """SMLT: stateless functions, hierarchical aggregation, BO resource scheduling."""


@smlt.command()
@click.option("--dataset", type=click.Choice(["cifar10", "femnist"]), default="cifar10",
              show_default=True)
@click.option("--target-acc", type=float, required=True, help="Test accuracy to reach (0-1).")
@click.option("--deadline", default="30m", show_default=True, help="e.g. 30m, 1h30m, 900s.")
@click.option("--budget", type=float, default=2.0, show_default=True, help="Dollars.")
@click.option("--backend", type=click.Choice(["lithops", "ray", "pool"]), default="lithops",
              show_default=True)
@click.option("--scheme", type=click.Choice(["hierarchical", "download_all",
                                             "parameter_server"]),
              default="hierarchical", show_default=True)
@click.option("--objective", type=click.Choice(["cost", "time"]), default="cost",
              show_default=True)
@click.option("--max-workers", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--memory", default="512:3538", show_default=True,
              help="MB range MIN:MAX the scheduler may choose (128-10240).")
@click.option("--batch", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--train-samples", type=click.IntRange(min=1), default=2048, show_default=True)
@click.option("--max-rounds", type=click.IntRange(min=1), default=400, show_default=True)
@click.option("--store-url", default=None, help="redis://host:port (default: embedded).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--root", default=None, help="Data root (default: $CARBIDE_DATA).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
def train(dataset, target_acc, deadline, budget, backend, scheme, objective, max_workers,
          memory, batch, train_samples, max_rounds, store_url, seed, root, out) -> None:
    """Train to TARGET-ACC by DEADLINE within BUDGET, planning workers and memory with BO."""
    from . import SMLTConfig, parse_duration, parse_range, write_train

    cfg = SMLTConfig(dataset=dataset, target_acc=target_acc, deadline_s=parse_duration(deadline),
                     budget=budget, backend=backend, scheme=scheme, objective=objective,
                     max_workers=max_workers, memory_range=parse_range("--memory", memory),
                     batch=batch, train_samples=train_samples, max_rounds=max_rounds,
                     store_url=store_url, seed=seed)
    m = write_train(out, cfg, root)["metrics"]
    click.echo(f"{'reached' if m['reached'] else 'stopped (' + m['stop'] + ')'}: acc "
               f"{m['final_acc']:.3f} in {m['rounds']} rounds, {m['seconds']:.1f} s, "
               f"${m['cost']:.5f} -> {out}/report.md")


@smlt.command()
@click.option("--workers", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--params", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option("--shards", type=click.IntRange(min=1), default=None,
              help="m for hierarchical (default: workers).")
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--store-url", default=None, help="redis://host:port (default: embedded).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
def bench(workers, params, shards, repeats, store_url, out) -> None:
    """One aggregation round per scheme: exactness, bytes per worker, round time."""
    from . import BenchConfig, write_bench

    m = write_bench(out, BenchConfig(workers=workers, params=params, shards=shards,
                                     repeats=repeats), store_url)["metrics"]
    click.echo(", ".join(f"{s}: {m[f'{s}_round_s']:.3f} s, "
                         f"{m[f'{s}_bytes_per_worker'] / 1e6:.2f} MB/worker"
                         for s in ("hierarchical", "download_all", "parameter_server"))
               + f" -> {out}/results.json")


add_repro_commands(
    smlt, "smlt",
    help="Measured 2-8 local workers + modelled 10-200 functions: SMLT vs download-all "
         "vs parameter server vs DDP, bytes per worker, deadline/budget plans, faults.",
    summary=lambda m: (f"hierarchical/download-all round x{m['hier_over_download_round_ratio']:.2f}"
                       f", bytes growth x{m['hier_bytes_growth']:.2f}, fault diff "
                       f"{m['fault_max_abs_diff']:.1e}"))

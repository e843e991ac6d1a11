"""``carbide citadel``: secure collaborative training in (simulated) enclaves."""

from __future__ import annotations

import click

from ...results import add_repro_commands

__all__ = ["citadel"]


@click.group()
def citadel() -> None:
    """Citadel: zero-sum masking + hierarchical aggregation in enclaves (arXiv 2105.01281).

    Attestation is simulated; enclaves are OS processes or Ray actors (no SGX)."""


@citadel.command()
@click.option("--enclaves", type=click.IntRange(min=1), default=4, show_default=True,
              help="Training enclaves N (one per data owner).")
@click.option("--fan-in", type=int, default=2, show_default=True,
              help="Children per aggregator F (>= 2).")
@click.option("--masks", type=click.Choice(["admin", "pairwise"]), default="pairwise",
              show_default=True)
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--dataset", type=click.Choice(["femnist", "fashion-mnist"]), default="femnist",
              show_default=True)
@click.option("--backend", type=click.Choice(["local", "ray", "inprocess"]), default="local",
              show_default=True, help="local: enclaves as OS processes; ray: Ray actors.")
@click.option("--bits", type=click.Choice(["32", "64"]), default="32", show_default=True)
@click.option("--clip", type=float, default=1.0, show_default=True,
              help="Update values are clipped to [-clip, clip] (clipped values counted).")
@click.option("--neighbors", default="auto", show_default=True,
              help="Pairwise mask neighbours per enclave on a ring shuffled every round: an "
                   "even number, 'auto' (smallest even k >= log2 N) or 'all' (all pairs).")
@click.option("--local-epochs", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--lr", type=float, default=0.05, show_default=True)
@click.option("--hidden", type=click.IntRange(min=1), default=None,
              help="CNN dense width (default: LEAF's 2048 for FEMNIST, 64 otherwise).")
@click.option("--alpha", type=float, default=0.5, show_default=True,
              help="Fashion-MNIST Dirichlet concentration.")
@click.option("--train-subset", type=click.IntRange(min=1), default=6000, show_default=True,
              help="Fashion-MNIST: training images used (class-balanced).")
@click.option("--test-subset", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--root", default=None, type=click.Path(file_okay=False),
              help="Data root (default: $CARBIDE_DATA).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
def run(enclaves, fan_in, masks, rounds, dataset, backend, bits, clip, neighbors,
        local_epochs, batch_size, lr, hidden, alpha, train_subset, test_subset, seed, root,
        out) -> None:
    """Train with Citadel and with plain FedAvg (same seeds); compare."""
    from . import CitadelRunConfig, record_citadel

    cfg = CitadelRunConfig(dataset=dataset, enclaves=enclaves, fan_in=fan_in, masks=masks,
                           rounds=rounds, backend=backend, bits=int(bits), clip=clip,
                           neighbors=_neighbors(neighbors), local_epochs=local_epochs,
                           batch_size=batch_size, lr=lr, hidden=hidden, alpha=alpha,
                           train_subset=train_subset, test_subset=test_subset, seed=seed)
    m = record_citadel(cfg, out, root=root)["metrics"]
    click.echo(f"test_acc {m['test_acc']:.4f} (plain {m['plain_test_acc']:.4f}), max |diff| "
               f"{m['max_abs_diff_vs_plain']:.3g}, {m['round_time_s']:.3f} s/round (plain "
               f"{m['plain_round_time_s']:.3f}) -> {out}/results.json")


def _neighbors(text: str) -> int | str | None:
    if text == "all":
        return None
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: give an even number, 'auto' or 'all'",
                                 param_hint="--neighbors") from None


@citadel.command()
@click.option("--ds", default="10000,100000,1000000,10000000", show_default=True,
              help="Model sizes d for the mask+encrypt throughput.")
@click.option("--ns", default="2,4,8,16,32,64", show_default=True,
              help="Enclave counts n for the scaling (in one process).")
@click.option("--fan-ins", default="2,4,8,16", show_default=True)
@click.option("--scaling-d", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--bits", type=click.Choice(["32", "64"]), default="32", show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def bench(ds, ns, fan_ins, scaling_d, bits, out) -> None:
    """Mask + encrypt throughput against d, and round cost against n and fan-in."""
    from . import BenchConfig, record_bench

    cfg = BenchConfig(ds=ds, ns=ns, fan_ins=fan_ins, scaling_d=scaling_d, bits=int(bits))
    m = record_bench(cfg, out)["metrics"]
    click.echo(f"mask+encrypt at d={cfg.ds[-1]}: pairwise "
               f"{m['pairwise_mask_encrypt_gb_per_s_max_d']:.3f} GB/s, admin "
               f"{m['admin_mask_encrypt_gb_per_s_max_d']:.3f} GB/s -> {out}/results.json")


add_repro_commands(
    citadel, "citadel",
    help="Secure vs plain accuracy, overhead breakdown, scaling, leakage tests.",
    summary=lambda m: (f"test_acc {m['test_acc']:.4f} vs plain {m['plain_test_acc']:.4f}; "
                       f"pairwise/plain round time {m['pairwise_over_plain']:.3f}"))

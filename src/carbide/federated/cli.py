"""``carbide backdoor``: federated backdoor attacks and defenses under data heterogeneity."""

from __future__ import annotations

import click

from ..results import add_repro_commands

__all__ = ["backdoor"]


@click.group()
def backdoor() -> None:
    """FL backdoor attacks and defenses under data heterogeneity (arXiv 2102.00655)."""


@backdoor.command()
@click.option("--dataset", type=click.Choice(["femnist", "fashion-mnist", "cifar10"]),
              default="fashion-mnist", show_default=True)
@click.option("--partition", default="hi:0.5", show_default=True,
              help="writers (FEMNIST) | iid | dirichlet:A | hi:H (Heterogeneity Index in [0,1]).")
@click.option("--clients", type=int, default=30, show_default=True, help="Clients N.")
@click.option("--per-round", type=int, default=10, show_default=True, help="Clients per round.")
@click.option("--rounds", type=int, default=20, show_default=True)
@click.option("--local-epochs", type=int, default=1, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--lr", type=float, default=0.05, show_default=True, help="Local SGD step.")
@click.option("--attackers", type=int, default=1, show_default=True,
              help="Malicious clients M (0: benign run; ASR still measured).")
@click.option("--attack-rounds", default="all", show_default=True,
              help="all | late:F (last share F of rounds) | early:F (first share) | ood:F (as many "
                   "rounds as late:F, late and when the attacker's labels are furthest from "
                   "the round's other clients) | every:K.")
@click.option("--poison-placement", type=click.Choice(["spread", "early", "last"]),
              default="spread", show_default=True,
              help="Where the poisoned steps sit in local training.")
@click.option("--poison-fraction", type=float, default=0.5, show_default=True,
              help="Share of a poisoned batch that is triggered.")
@click.option("--poison-steps", type=float, default=0.5, show_default=True,
              help="Share of local steps that are poisoned.")
@click.option("--gamma", type=float, default=1.0, show_default=True,
              help="Model-replacement boost of the attacker's update.")
@click.option("--attack-data", default="own", show_default=True,
              help="Attacker's clean data: own | iid | classes:a,b,...")
@click.option("--target", type=int, default=0, show_default=True, help="Backdoor target label.")
@click.option("--join", type=click.Choice(["scheduled", "sampled"]), default="scheduled",
              show_default=True,
              help="Attackers join every attack round, or only when sampled.")
@click.option("--defense", default="none", show_default=True,
              help="none | krum[:F] | multikrum[:F] | median | trimmed:B | clip:C[:SIGMA] | "
                   "foolsgold.")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local",
              show_default=True)
@click.option("--ray-address", default=None,
              help="Join an existing Ray cluster (e.g. auto, ray://host:10001).")
@click.option("--train-subset", type=int, default=None,
              help="Fashion-MNIST/CIFAR-10: use this many training images (class-balanced).")
@click.option("--test-subset", type=int, default=None)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def run(dataset, partition, clients, per_round, rounds, local_epochs, batch_size, lr,
        attackers, attack_rounds, poison_placement, poison_fraction, poison_steps, gamma,
        attack_data, target, join, defense, backend, ray_address, train_subset, test_subset,
        seed, out) -> None:
    """Run one federated training with backdoor attackers and a defense; per-round rows."""
    from . import BackdoorRunConfig, record_backdoor_run

    cfg = BackdoorRunConfig(
        dataset=dataset, partition=partition, clients=clients, per_round=per_round,
        rounds=rounds, local_epochs=local_epochs, batch_size=batch_size, lr=lr,
        attackers=attackers, attack_rounds=attack_rounds, poison_placement=poison_placement,
        poison_fraction=poison_fraction, poison_steps=poison_steps, gamma=gamma,
        attack_data=attack_data, target=target, join=join, defense=defense, backend=backend,
        ray_address=ray_address, seed=seed, train_subset=train_subset,
        test_subset=test_subset)
    metrics = record_backdoor_run(cfg, out)["metrics"]
    click.echo(f"main_acc {metrics['main_acc']:.4f}, asr {metrics['asr']:.4f} (mean of last 5 "
               f"rounds {metrics['asr_mean_last5']:.4f}), {metrics['rounds']} rounds, "
               f"{metrics['round_time_s']:.3f} s/round -> {out}/results.json")


def _summary(m) -> str:
    def f(key: str) -> str:  # NaN (not measured) is written to JSON as null
        return "not measured" if m.get(key) is None else f"{m[key]:.3f}"

    return (f"ASR {f('asr_hi_low')} at low HI -> {f('asr_hi_high')} at high HI; timing "
            f"{m['timing_best']} {f('asr_timing_best')}; stages "
            f"{m['stages_done']}/{m['stages_planned']}")


add_repro_commands(
    backdoor, "backdoor",
    help="ASR vs heterogeneity, timing strategies, sybils vs defenses, attack data, "
         "CIFAR-10, FEMNIST.",
    summary=_summary)


@backdoor.command()
@click.option("--quick", is_flag=True, help="The quick plan (about a minute).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Report folder; stages go to OUT/stages and are reused.")
@click.option("--root", default=None, type=click.Path(file_okay=False),
              help="Data root (default: $CARBIDE_DATA).")
@click.option("--max-minutes", type=click.FloatRange(min=0.0), default=None,
              help="Start no new stage after this many minutes, then render what exists.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Trainings in parallel (default: one per core, at most 2).")
def stages(quick, seed, out, root, max_minutes, workers) -> None:
    """Run the reproduction's missing stages (within --max-minutes) and render the report
    from every stage that exists; unmeasured cells read 'not measured'."""
    from . import run_stages

    result = run_stages(out, quick=quick, seed=seed, root=root, workers=workers,
                        max_minutes=max_minutes)
    click.echo(f"{_summary(result['metrics'])} -> {out}/report.md")

"""``carbide aoi``: forecasting with stale features (arXiv 2103.00092)."""

from __future__ import annotations

import click

from ..results import add_repro_commands

__all__ = ["aoi"]


@click.group()
def aoi() -> None:
    """Age-aware forecasting: loss vs feature age, joint training with age input."""


def _data_options(f):
    options = [
        click.option("--dataset", default="pv-system50", show_default=True,
                     help="pv-system50 | serf-east | path to a CSV file."),
        click.option("--time-column", default=None,
                     help="CSV: the timestamp column (default 'time')."),
        click.option("--freq", default="1h", show_default=True,
                     help="PV data: resampling step (pandas offset); ages count in steps."),
        click.option("--target", default="ac_power", show_default=True, help="Column to forecast."),
        click.option("--features", default="ac_power", show_default=True,
                     help="Comma-separated feature columns."),
        click.option("--offsets", default="",
                     help="Heterogeneous ages: FEATURE=STEPS,... added to the swept age, e.g. "
                          "temp_air=6."),
        click.option("--model", type=click.Choice(["lstm", "mlp"]), default="lstm",
                     show_default=True, help="The paper's LSTM(32)+linear, or an MLP."),
        click.option("--epochs", type=click.IntRange(min=1), default=50, show_default=True),
        click.option("--patience", type=click.IntRange(min=0), default=5, show_default=True,
                     help="Early stopping on the validation MSE (0: off)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True),
        click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam step."),
        click.option("--hidden", type=click.IntRange(min=1), default=None,
                     help="LSTM units (default 32) / MLP width (default 64)."),
        click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True),
        click.option("--out", required=True, type=click.Path(file_okay=False)),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _train(model, epochs, patience, batch_size, lr, hidden, seed):
    from . import TrainConfig

    return TrainConfig(model=model, hidden=hidden, lr=lr, batch_size=batch_size,
                       epochs=epochs, patience=patience, seed=seed)


@aoi.command()
@_data_options
@click.option("--ages", default="1:48", show_default=True,
              help="Swept age in steps: 1:48, 1:48:3, 1,6,12 (inclusive ranges).")
@click.option("--window", default="6,12,24", show_default=True,
              help="Window lengths u in steps, comma-separated.")
@click.option("--mmse-k", type=click.IntRange(min=1), default=20, show_default=True,
              help="Neighbours of the k-NN minimum-MSE estimate.")
def sweep(dataset, time_column, freq, target, features, offsets, model, epochs, patience,
          batch_size, lr, hidden, seed, out, ages, window, mmse_k) -> None:
    """Train one model per (window, age): train/test MSE and the MMSE estimate per age."""
    from . import SweepConfig, parse_ages, parse_features, parse_offsets, run_sweep

    cfg = SweepConfig(target=target, features=parse_features(features), ages=parse_ages(ages),
                      windows=parse_ages(window, "--window"), offsets=parse_offsets(offsets),
                      train=_train(model, epochs, patience, batch_size, lr, hidden, seed),
                      mmse_k=mmse_k)
    res = run_sweep(cfg, out, dataset=dataset, freq=freq, time=time_column)
    click.echo(f"{len(res['rows'])} models; non-monotone stretches: "
               f"{len(res['metrics']['non_monotone'])} -> {out}/results.json")


@aoi.command()
@_data_options
@click.option("--ages", default="1:48:6", show_default=True,
              help="Ages pooled by the joint models (each also gets a per-age model).")
@click.option("--window", type=click.IntRange(min=1), default=12, show_default=True,
              help="Window length u in steps.")
@click.option("--joint-mode", type=click.Choice(["all", "sample"]), default="all",
              show_default=True,
              help="all: every time at every age; sample: one random age per time.")
def compare(dataset, time_column, freq, target, features, offsets, model, epochs, patience,
            batch_size, lr, hidden, seed, out, ages, window, joint_mode) -> None:
    """Per-age models vs one joint model without / with the age as input."""
    from . import CompareConfig, parse_ages, parse_features, parse_offsets, run_compare

    cfg = CompareConfig(target=target, features=parse_features(features), ages=parse_ages(ages),
                        window=window, offsets=parse_offsets(offsets),
                        train=_train(model, epochs, patience, batch_size, lr, hidden, seed),
                        joint_mode=joint_mode)
    metrics = run_compare(cfg, out, dataset=dataset, freq=freq, time=time_column)["metrics"]
    click.echo(f"test MSE: per-age {metrics['per_age_test_mse']:.4f}, joint "
               f"{metrics['joint_test_mse']:.4f}, joint+age "
               f"{metrics['joint_age_input_test_mse']:.4f} -> {out}/results.json")


add_repro_commands(
    aoi, "aoi",
    help="Loss vs age on PV system 50, the MMSE curve, per-age vs joint vs joint+age.",
    summary=lambda m: (f"per-age {m['per_age_test_mse']:.4f}, joint {m['joint_test_mse']:.4f}, "
                       f"joint+age {m['joint_age_input_test_mse']:.4f}"))


@aoi.command("stage")
@click.option("--quick", is_flag=True, help="A stage of the quick plan.")
@click.option("--seed", type=click.IntRange(min=0), required=True,
              help="The seed whose stage to run.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="The reproduction's folder (the stage goes to OUT/stages/seed<SEED>.json).")
@click.option("--root", default=None, type=click.Path(file_okay=False),
              help="Data root (default: $CARBIDE_DATA).")
def stage(quick: bool, seed: int, out: str, root: str | None) -> None:
    """Run one seed of the reproduction as a resumable stage (skipped when present);
    `carbide aoi repro --out OUT` then uses every stage it finds."""
    from pathlib import Path

    from . import FULL_PLAN, QUICK_PLAN, run_stage

    path = Path(out) / "stages" / f"seed{seed}.json"
    existed = path.exists()
    run_stage(QUICK_PLAN if quick else FULL_PLAN, seed=seed, root=root,
              stages=Path(out) / "stages")
    click.echo(f"{'kept' if existed else 'wrote'} {path}")

"""``carbide aoi``: forecasting with stale features (arXiv 2103.00092)."""

from __future__ import annotations

import click

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


def _features(text: str) -> tuple[str, ...]:
    from ..exceptions import InvalidConfigError

    feats = tuple(f.strip() for f in text.split(",") if f.strip())
    if not feats:
        raise InvalidConfigError(f"--features takes comma-separated column names, got {text!r}")
    return feats


def _offsets(text: str) -> dict[str, int]:
    from ..exceptions import InvalidConfigError

    out: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = int(value)
        except ValueError:
            raise InvalidConfigError(
                f"--offsets takes FEATURE=STEPS pairs such as temp_air=6,ghi=3; got "
                f"{text!r}") from None
    return out


def _train(model, epochs, patience, batch_size, lr, hidden, seed):
    from .train import TrainConfig

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
    from ..cli._parse import int_list
    from ..results import Report, RunRecorder
    from .experiment import SweepConfig, load_dataset, parse_ages
    from .experiment import sweep as run_sweep
    from .repro import plot_curves, stretches_table

    cfg = SweepConfig(target=target, features=_features(features), ages=parse_ages(ages),
                      windows=int_list("--window", window, "window lengths such as 6,12,24"),
                      offsets=_offsets(offsets),
                      train=_train(model, epochs, patience, batch_size, lr, hidden, seed),
                      mmse_k=mmse_k)
    df = load_dataset(dataset, freq=freq, time=time_column)
    recorder = RunRecorder(out, system="aoi", config={"dataset": dataset, "freq": freq,
                                                      **cfg.to_dict()})
    rows = run_sweep(df, cfg)
    plot_curves(recorder, rows, "loss_vs_age.png", f"{target} from {','.join(cfg.features)}")
    stretches = stretches_table(rows)
    metrics = {"windows": list(cfg.windows), "ages": list(cfg.ages),
               "non_monotone": stretches}
    cols = ["window", "age", "n_train", "n_test", "dropped", "train_mse", "val_mse", "test_mse",
            "mmse_estimate", "best_epoch"]
    report = (Report(f"Loss vs age: {target} from {', '.join(cfg.features)} ({dataset})")
              .paragraph("MSEs on the standardized target scale (1 = the training variance). "
                         "mmse_estimate: leave-one-out k-NN estimate of the minimum MSE on the "
                         "training part (biased upwards; see carbide.forecasting.mmse).")
              .table(rows, cols).image("loss_vs_age.png", "loss vs age")
              .heading("Stretches where a curve falls by more than 0.02 as age grows")
              .table(stretches))
    recorder.finish(metrics=metrics, rows=rows, report=report)
    click.echo(f"{len(rows)} models; non-monotone stretches: {len(stretches)} -> "
               f"{out}/results.json")


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
    from ..results import Report, RunRecorder
    from .experiment import CompareConfig, load_dataset, parse_ages
    from .experiment import compare as run_compare
    from .repro import plot_compare

    cfg = CompareConfig(target=target, features=_features(features), ages=parse_ages(ages),
                        window=window, offsets=_offsets(offsets),
                        train=_train(model, epochs, patience, batch_size, lr, hidden, seed),
                        joint_mode=joint_mode)
    df = load_dataset(dataset, freq=freq, time=time_column)
    recorder = RunRecorder(out, system="aoi", config={"dataset": dataset, "freq": freq,
                                                      **cfg.to_dict()})
    metrics, rows = run_compare(df, cfg)
    plot_compare(recorder, rows, "compare.png")
    report = (Report(f"Per-age vs joint training: {target} ({dataset}, u = {window})")
              .paragraph("Test MSE per age on the standardized target scale; the joint models "
                         f"are one network each, trained on all {len(cfg.ages)} ages pooled.")
              .table([{k: metrics[k] for k in ("per_age_test_mse", "joint_test_mse",
                                                "joint_age_input_test_mse")}])
              .table(rows, ["age", "per_age_test_mse", "joint_test_mse",
                            "joint_age_input_test_mse", "n_test"])
              .image("compare.png", "test MSE per age"))
    recorder.finish(metrics=metrics, rows=rows, report=report)
    click.echo(f"test MSE: per-age {metrics['per_age_test_mse']:.4f}, joint "
               f"{metrics['joint_test_mse']:.4f}, joint+age "
               f"{metrics['joint_age_input_test_mse']:.4f} -> {out}/results.json")


@aoi.command()
@click.option("--quick", is_flag=True, help="The quick plan (a few minutes on 2 cores).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def repro(quick: bool, seed: int, out: str) -> None:
    """Loss vs age on PV system 50, the MMSE curve, per-age vs joint vs joint+age."""
    from .repro import run_repro

    m = run_repro(out, quick=quick, seed=seed)["metrics"]
    click.echo(f"per-age {m['per_age_test_mse']:.4f}, joint {m['joint_test_mse']:.4f}, "
               f"joint+age {m['joint_age_input_test_mse']:.4f} -> {out}/report.md")

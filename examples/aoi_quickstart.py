"""Forecasting solar power from stale features: loss vs age, and one network for all ages.

Builds age-aware samples from PVDAQ system 50 (hourly AC power + PSM3 weather): the power
window ends Delta hours before the target, the weather window 6 hours earlier still. Trains a
small MLP per age, estimates the minimum MSE without a network, then trains one joint network
with the age as an input. Works the same on any pandas DataFrame with a DatetimeIndex.

Run: CARBIDE_DATA=../shared/data python examples/aoi_quickstart.py
"""

from __future__ import annotations

from carbide.datasets import load_pv
from carbide.forecasting import (
    TrainConfig,
    evaluate,
    evaluate_per_age,
    fit_model,
    make_age_dataset,
    make_joint_dataset,
    mmse_estimate,
)


def main() -> None:
    df = load_pv("system50", "1h")                  # or your own time-indexed DataFrame
    features = ["ac_power", "temp_air"]
    cfg = TrainConfig(model="mlp", epochs=15)       # model="lstm": the paper's LSTM(32)
    for age in (1, 12, 24):
        ds = make_age_dataset(df, "ac_power", features, window=6,
                              ages={"ac_power": age, "temp_air": age + 6})
        sp = ds.split()                             # chronological 70/15/15, no leakage
        fit = fit_model(sp.train, sp.val, cfg)
        est = mmse_estimate(sp.train, y_scale=(fit.scaler.y_mean, fit.scaler.y_std))
        print(f"age {age:2d} h: train MSE {fit.train_mse:.3f}, test MSE "
              f"{evaluate(fit, sp.test):.3f}, k-NN MMSE estimate {est:.3f} "
              f"({ds.dropped} windows touching NaN dropped)")
    ages = [{"ac_power": a, "temp_air": a + 6} for a in (1, 12, 24)]
    joint = make_joint_dataset(df, "ac_power", features, 6, ages, age_input=True).split()
    fit = fit_model(joint.train, joint.val, cfg)
    for vec, mse in evaluate_per_age(fit, joint.test).items():
        print(f"one joint network with age input, ages {vec}: test MSE {mse:.3f}")


if __name__ == "__main__":
    main()

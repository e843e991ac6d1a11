"""Time the age-aware pipeline on PV system 50 (hourly): building the windows, the k-NN
MMSE estimate, and one training epoch of each model per window length.

Usage: CARBIDE_DATA=../shared/data python benchmarks/aoi_train.py [--repeats 3]
Prints one row per step: window u, median seconds, samples.
"""

from __future__ import annotations

import argparse
import statistics
import time


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from carbide.datasets import load_pv
    from carbide.forecasting import (
        TrainConfig,
        as_time_table,
        fit_model,
        make_age_dataset,
        make_joint_dataset,
        mmse_estimate,
    )

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    table = as_time_table(load_pv("system50", "1h"), columns=["ac_power", "temp_air", "ghi"])
    print(f"{'step':<34} {'u':>3} {'seconds':>9} {'samples':>8}")
    for u in (6, 12, 24):
        build = lambda u=u: make_age_dataset(table, "ac_power", ["ac_power"], u, 24)  # noqa: E731
        ds = build()
        print(f"{'make_age_dataset (1 feature)':<34} {u:>3} {_median(build, args.repeats):>9.4f} "
              f"{len(ds):>8}")
        joint = lambda u=u: make_joint_dataset(table, "ac_power", ["ac_power"], u,  # noqa: E731
                                               list(range(1, 49)))
        print(f"{'make_joint_dataset (48 ages)':<34} {u:>3} {_median(joint, 1):>9.4f} "
              f"{len(joint()):>8}")
        sp = ds.split()
        est = lambda sp=sp: mmse_estimate(sp.train)  # noqa: E731
        print(f"{'k-NN MMSE estimate (train part)':<34} {u:>3} "
              f"{_median(est, args.repeats):>9.4f} {len(sp.train):>8}")
        for model in ("mlp", "lstm"):
            cfg = TrainConfig(model=model, epochs=1, patience=0)
            fit = lambda sp=sp, cfg=cfg: fit_model(sp.train, sp.val, cfg)  # noqa: E731
            print(f"{'one epoch + val, ' + model:<34} {u:>3} "
                  f"{_median(fit, args.repeats):>9.4f} {len(sp.train):>8}")


if __name__ == "__main__":
    main()

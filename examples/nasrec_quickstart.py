"""NASRec quick start: search a CTR model for your own table.

Replace the synthetic frame below with your own pandas DataFrame (one row per impression, a
0/1 click column). The same flow on the command line:

    carbide nasrec search --data csv:my_table.csv --label click --budget 32 --out run/
    carbide nasrec train run/best_arch.json --data csv:my_table.csv --label click --out run2/
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from carbide.nas.rec import NASRecConfig, TabularCTR, run_nasrec


def synthetic_table(n: int = 4000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    user, ad = rng.integers(0, 200, n), rng.integers(0, 50, n)
    price = rng.exponential(20.0, n)
    logit = 0.8 * np.sin(user) + 0.5 * np.cos(ad) - 0.01 * price
    return pd.DataFrame({
        "user": user.astype(str), "ad": ad.astype(str), "price": price,
        "tags": [tuple(rng.choice(list("abcdef"), size=2, replace=False)) for _ in range(n)],
        "click": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
    })


def main() -> None:
    df = synthetic_table()
    data = TabularCTR.from_dataframe(df, sparse=["user", "ad"], dense=["price"],
                                     multi_hot=["tags"], label="click")
    config = NASRecConfig(space="small", budget=8, population=4, sample_size=2,
                          dense_dims=(16, 32, 64), sparse_dims=(4, 8), merger_tokens=2,
                          baselines=("lr", "deepfm"), epochs=2, supernet_epochs=2)
    result = run_nasrec(config, data=data)
    for key, value in result["metrics"].items():
        if key.endswith("test_logloss"):
            print(f"{key:34s} {value:.4f}")
    print("best architecture, block 1:", result["best_arch"]["blocks"][0])


if __name__ == "__main__":
    main()

"""Tiny deterministic fixtures for NASRec tests."""

from __future__ import annotations

import numpy as np
import pytest


def make_frame(n: int = 240, seed: int = 0):
    import pandas as pd

    rng = np.random.default_rng(seed)
    user = rng.integers(0, 12, n)
    item = rng.integers(0, 9, n)
    dense = rng.exponential(3.0, n)
    logit = 0.4 * (user % 3) - 0.5 * (item % 2) + 0.2 * np.log1p(dense) - 0.3
    click = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    genres = [tuple(rng.choice(["a", "b", "c", "d"], size=int(rng.integers(1, 3)),
                               replace=False)) for _ in range(n)]
    return pd.DataFrame({"user": user.astype(str), "item": [f"i{v}" for v in item],
                         "count": dense, "genres": genres, "click": click})


@pytest.fixture(scope="session")
def frame():
    return make_frame()


@pytest.fixture(scope="session")
def table(frame):
    from carbide.nas.rec import TabularCTR

    return TabularCTR.from_dataframe(frame, sparse=["user", "item"], dense=["count"],
                                     multi_hot=["genres"], label="click")


@pytest.fixture(scope="session")
def tiny_space():
    from carbide.nas.rec import make_rec_space

    return make_rec_space("full", dense_dims=(4, 8), sparse_dims=(2, 3), merger_tokens=2,
                          num_blocks=3)


@pytest.fixture()
def batch(table):
    return {k: v[:6] for k, v in table.tensors("train").items()}

import pytest

from carbide.exceptions import InvalidConfigError
from carbide.nas.gem.baselines import GCNConfig
from carbide.nas.gem.encoder import EncoderConfig
from carbide.nas.gem.predictor import PredictorConfig
from carbide.nas.gem.study import METHODS, benchmark_pool, predictor_study
from tests.nas.gem.test_search import table as _table  # noqa: F401 - fixture import

table = _table

_SMALL = {"encoder": EncoderConfig(steps=20, hidden=16, emb_dim=8), "encoder_cells": 60,
          "predictor": PredictorConfig(hidden=(16,), ensemble=2, epochs=60),
          "gcn": GCNConfig(hidden=8, epochs=30)}


def test_pool_holds_every_table_cell(table):
    pool = benchmark_pool("nb201", table)
    assert len(pool.cells) == len(pool.acc) == len(pool.keys) == 300
    assert pool.ops[:2] == ("input", "output") and pool.max_nodes <= 8
    with pytest.raises(InvalidConfigError, match="'nb301'"):
        benchmark_pool("nb301", table)


def test_study_rows_per_method_and_size(table):
    pool = benchmark_pool("nb201", table)
    rows = predictor_study(pool, sizes=(10, 40), seed=1, test_size=100, **_SMALL)
    assert {(r["method"], r["train_size"]) for r in rows} == {
        (m, n) for m in METHODS for n in (10, 40)}
    for r in rows:
        assert -1 <= r["spearman"] <= 1 and -1 <= r["kendall"] <= 1
        assert r["test_size"] == 100 and r["seed"] == 1
    # the synthetic accuracy counts ops: 40 cells are enough for the encodings to rank
    at40 = {r["method"]: r["spearman"] for r in rows if r["train_size"] == 40}
    print(at40)
    assert max(at40.values()) > 0.5 and at40["onehot"] > 0.3
    assert all("encoder_s" in r for r in rows if r["method"] == "wl")
    again = predictor_study(pool, sizes=(10, 40), seed=1, test_size=100, **_SMALL)
    assert [r["spearman"] for r in again] == [r["spearman"] for r in rows]


def test_study_rejects_what_does_not_fit(table):
    pool = benchmark_pool("nb201", table)
    with pytest.raises(InvalidConfigError, match="test_size=250"):
        predictor_study(pool, sizes=(100,), test_size=250, **_SMALL)
    with pytest.raises(InvalidConfigError, match="unknown method"):
        predictor_study(pool, sizes=(10,), test_size=50, methods=("wl", "xgb"))
    with pytest.raises(InvalidConfigError, match="sizes"):
        predictor_study(pool, sizes=(1,), test_size=50)

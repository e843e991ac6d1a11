from __future__ import annotations

import json

import pytest

from carbide.exceptions import InvalidArchitectureError, InvalidConfigError
from carbide.nas.rec import NASRecConfig, rank_correlation, run_nasrec, train_arch

TINY = dict(space="full", dense_dims=(4, 8), sparse_dims=(2, 3), merger_tokens=2, budget=4,
            population=2, sample_size=2, finetune_steps=3, finetune_rows=64, val_rows=None,
            batch_size=32, baselines=("lr", "fm"))


def test_run_nasrec_end_to_end(table):
    res = run_nasrec(NASRecConfig(**TINY), data=table)
    m = res["metrics"]
    for key in ("test_logloss", "test_auc", "baseline_lr_test_logloss",
                "baseline_fm_test_logloss", "flops", "params"):
        assert key in m
    assert 0 < m["test_logloss"] < 2 and 0 <= m["test_auc"] <= 1
    assert len(res["history"]) == 4
    assert m["search_best_val_logloss"] == pytest.approx(-res["history"].best["val_acc"])
    # the best architecture retrains from its JSON to the same figure (same seed)
    again = train_arch(json.dumps(res["best_arch"]), table, NASRecConfig(**TINY))
    assert again["test_logloss"] == pytest.approx(m["test_logloss"], rel=1e-5)


def test_train_arch_rejects_a_foreign_architecture(table):
    arch = {"blocks": [{"dense_op": "fc", "sparse_op": "efc", "dense_dim": 1024,
                        "sparse_dim": 2, "dense_in": [0], "sparse_in": [0]}] * 7}
    with pytest.raises(InvalidArchitectureError, match="has 7 blocks|dense_dim = 1024"):
        train_arch(arch, table, NASRecConfig(**TINY))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"space": "huge"}, "'small' or 'full'"),
    ({"strategy": "bo"}, "strategy must be"),
    ({"budget": 2, "population": 4}, "below REA's population"),
    ({"baselines": ("xgb",)}, "unknown baseline"),
    ({"data": "parquet:x"}, "data must be"),
    ({"data": "csv:x.csv"}, "needs --label"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        NASRecConfig(**kwargs)


def test_rank_correlation_shape(table):
    rc = rank_correlation(table, NASRecConfig(**TINY), num_subnets=3, interactions=False)
    assert len(rc["subnets"]) == 3 and rc["interactions"] is False
    for k in ("kendall_ft", "spearman_ft", "kendall_noft", "spearman_noft"):
        assert -1.0 <= rc[k] <= 1.0

from __future__ import annotations

import numpy as np
import pytest
import torch

from carbide.nas.rec import (
    RecSupernet,
    SupernetEvaluator,
    TrainConfig,
    binary_auc,
    build_baseline,
    evaluate_model,
    full_path_probability,
    train_model,
    train_supernet,
)
from carbide.nas.rec.baselines import BASELINES
from carbide.nas.rec.train import lr_factor


def test_full_path_probability_decays_from_one_to_zero():
    assert full_path_probability(0, 10) == 1.0
    assert full_path_probability(5, 10) == pytest.approx(0.5)
    assert full_path_probability(10, 10) == 0.0 and full_path_probability(50, 10) == 0.0
    assert full_path_probability(0, 0) == 0.0
    probs = [full_path_probability(s, 8) for s in range(12)]
    assert all(a >= b for a, b in zip(probs, probs[1:], strict=False))


def test_lr_schedule():
    assert lr_factor(0, 100, 10) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10) == pytest.approx(1.0)
    assert lr_factor(10, 100, 10) == pytest.approx(1.0)
    assert lr_factor(100, 100, 10) == pytest.approx(0.0, abs=1e-12)


def test_binary_auc_matches_definition():
    y = np.array([0, 0, 1, 1, 1, 0])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.2])
    pairs = [(p, n) for p in s[y == 1] for n in s[y == 0]]
    expect = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
    assert binary_auc(y, s) == pytest.approx(expect)
    assert np.isnan(binary_auc(np.ones(3), np.arange(3)))


def test_supernet_training_follows_the_warmup(table, tiny_space):
    net = RecSupernet(tiny_space, table.vocab_sizes, table.bag_sizes, table.num_dense)
    cfg = TrainConfig(epochs=3, batch_size=32, lr=0.05)
    hist = train_supernet(net, table, cfg, warmup_steps=4, seed=0)
    assert hist["steps"] == 3 * int(np.ceil(len(table.splits["train"]) / 32))
    assert hist["p_full"][:5] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert 1 <= hist["full_steps"] <= 4 and all(p == 0 for p in hist["p_full"][4:])
    assert all(np.isfinite(hist["losses"]))


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_train(name, table):
    model = build_baseline(name, table, hidden=(8,), seed=0)
    batch = {k: v[:7] for k, v in table.tensors("train").items()}
    assert model(batch).shape == (7,)
    before = evaluate_model(model, table, "train")["logloss"]
    train_model(model, table, TrainConfig(epochs=5, batch_size=32, lr=0.05))
    after = evaluate_model(model, table, "train")
    assert after["logloss"] < before and 0.0 <= after["auc"] <= 1.0


def test_evaluator_scores_cache_and_finetune(table, tiny_space):
    net = RecSupernet(tiny_space, table.vocab_sizes, table.bag_sizes, table.num_dense)
    rng = np.random.default_rng(0)
    cell = tiny_space.sample(rng)
    ev = SupernetEvaluator(net, table, finetune_steps=5, finetune_rows=64, batch_size=32)
    res = ev(cell)
    assert res.val_acc == pytest.approx(-res.extra["val_logloss"])
    assert 0 < res.extra["val_logloss"] < 5 and ev.queries == 1
    assert ev(cell) is res and ev.queries == 1
    noft = SupernetEvaluator(net, table, finetune_steps=0, finetune_rows=64)
    scored = noft.score_arch(tiny_space.to_arch(cell))
    with torch.no_grad():
        direct = evaluate_model(lambda b: net(b, tiny_space.to_arch(cell)), table, "val")
    assert scored["val_logloss"] == pytest.approx(direct["logloss"], rel=1e-5)

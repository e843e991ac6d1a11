"""Tests of mini-batch GraphSAGE training through a feature store
(carbide.compression.featquant.train)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from carbide.exceptions import InvalidConfigError
from tests.conftest import require_dataset

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

from carbide.compression.featquant._dense import DenseFeatures  # noqa: E402
from carbide.compression.featquant.sampler import CSRGraph, NeighborSampler  # noqa: E402
from carbide.compression.featquant.synthetic import synthetic_node_task  # noqa: E402
from carbide.compression.featquant.train import (  # noqa: E402
    GraphSAGE,
    TrainConfig,
    TrainResult,
    layerwise_inference,
    train_node_classifier,
)


@pytest.fixture(scope="module")
def small_task():
    return synthetic_node_task(
        400, num_features=12, num_classes=4, avg_degree=6, seed=0, noise=1.0,
        train_fraction=0.5, val_fraction=0.25,
    )


class CountingFeatures(DenseFeatures):
    """DenseFeatures that records what the training loop gathers."""

    def __init__(self, x):
        super().__init__(x)
        self.calls: list[int] = []

    def gather(self, index, device=None):
        self.calls.append(int(index.numel()))
        return super().gather(index, device)


# ----- TrainConfig -----


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"fanouts": (5, 0)}, "fanout 0"),
        ({"fanouts": ()}, "fanouts"),
        ({"fanouts": (5, 5), "num_layers": 3}, "num_layers=3"),
        ({"hidden": 0}, "hidden"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"weight_decay": -1e-3}, "weight_decay"),
        ({"dropout": 1.0}, "dropout"),
        ({"seed": -1}, "seed"),
        ({"device": "gpu0"}, "'gpu0'"),
        ({"eval_every": -1}, "eval_every"),
        ({"eval_batch_size": 0}, "eval_batch_size"),
    ],
)
def test_config_rejects_bad_values(kwargs, needle):
    with pytest.raises(InvalidConfigError, match=needle):
        TrainConfig(**kwargs)


def test_config_defaults():
    cfg = TrainConfig()
    assert cfg.fanouts == (15, 10, 5) and cfg.depth == 3
    assert (cfg.hidden, cfg.epochs, cfg.batch_size) == (128, 20, 256)
    assert TrainConfig(fanouts=[4, 3], num_layers=2).fanouts == (4, 3)


# ----- the model -----


def test_trimmed_forward_matches_full_forward_on_the_seeds(small_task):
    data = small_task
    graph = CSRGraph.from_edge_index(data.edge_index, data.num_nodes)
    sub = NeighborSampler(graph, (4, 3, 2), seed=0).sample(torch.arange(0, 40, 3))
    model = GraphSAGE(12, 16, 4, num_layers=3).eval()
    x = data.x[sub.n_id]
    full = model(x, sub.edge_index)[: sub.batch_size]
    trimmed = model(x, sub.edge_index, sub.num_sampled_nodes, sub.num_sampled_edges)
    assert trimmed.size(0) < x.size(0)
    torch.testing.assert_close(trimmed[: sub.batch_size], full, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("chunk_size", [7, 1000])
def test_layerwise_inference_equals_full_graph_forward(small_task, chunk_size):
    data = small_task
    graph = CSRGraph.from_edge_index(data.edge_index, data.num_nodes)
    model = GraphSAGE(12, 16, 4, num_layers=2).eval()
    with torch.no_grad():
        expected = model(data.x, data.edge_index)
    targets = torch.tensor([5, 0, 399, 17])
    got = layerwise_inference(model, graph, DenseFeatures(data.x), targets, chunk_size=chunk_size)
    torch.testing.assert_close(got, expected[targets], rtol=1e-5, atol=1e-5)
    everything = layerwise_inference(model, graph, DenseFeatures(data.x), chunk_size=chunk_size)
    torch.testing.assert_close(everything, expected, rtol=1e-5, atol=1e-5)


# ----- training -----


def test_two_epoch_smoke_run_and_result_contract(small_task):
    features = CountingFeatures(small_task.x)
    cfg = TrainConfig(fanouts=(4, 4), hidden=16, epochs=2, batch_size=64, seed=0)
    res = train_node_classifier(small_task, features, cfg, progress=False)
    assert isinstance(res, TrainResult)
    assert len(res.history) == 2
    for i, h in enumerate(res.history, start=1):
        assert h["epoch"] == i and h["batches"] == math.ceil(200 / 64)
        assert math.isfinite(h["loss"]) and 0.0 <= h["val_acc"] <= 1.0
        assert h["sample_s"] >= 0 and h["gather_s"] >= 0 and h["compute_s"] >= 0
        assert h["epoch_s"] >= h["sample_s"] + h["gather_s"] + h["compute_s"] - 1e-6
    assert res.val_acc == max(h["val_acc"] for h in res.history)
    assert res.history[res.best_epoch - 1]["val_acc"] == res.val_acc
    assert 0.0 <= res.test_acc <= 1.0 and res.epoch_time_s > 0
    assert set(res.timings) == {"sample_s", "gather_s", "compute_s", "eval_s", "train_s"}
    # training gathers only the sampled subgraphs, never the whole matrix
    assert features.calls[0] == 1  # the untimed warm-up gather (compiles the numba kernel)
    train_calls = features.calls[1:5]  # epoch 1's four batches, then its evaluation
    assert all(0 < c < 400 for c in train_calls)
    assert sum(train_calls) / 4 == res.history[0]["nodes_per_batch"]
    d = res.to_dict()
    assert "model" not in d and d["best_epoch"] == res.best_epoch
    assert isinstance(res.model, GraphSAGE) and not res.model.training


def test_features_come_from_the_store_not_data_x(small_task):
    data = small_task.clone()
    real = DenseFeatures(data.x)
    data.x = torch.zeros_like(data.x)  # must be ignored
    cfg = TrainConfig(fanouts=(4, 4), hidden=16, epochs=3, batch_size=64, dropout=0.0)
    res = train_node_classifier(data, real, cfg, progress=False)
    blind = train_node_classifier(data, DenseFeatures(data.x), cfg, progress=False)
    assert res.test_acc > blind.test_acc


def test_a_plain_float_tensor_trains_exactly_as_dense_features(small_task):
    cfg = TrainConfig(fanouts=(4, 4), hidden=16, epochs=2, batch_size=64, seed=3)
    raw = train_node_classifier(small_task, small_task.x, cfg, progress=False)
    wrapped = train_node_classifier(small_task, DenseFeatures(small_task.x), cfg,
                                    progress=False)
    assert [h["loss"] for h in raw.history] == [h["loss"] for h in wrapped.history]
    assert (raw.test_acc, raw.val_acc) == (wrapped.test_acc, wrapped.val_acc)


def test_layerwise_inference_takes_a_plain_tensor(small_task):
    graph = CSRGraph.from_edge_index(small_task.edge_index, small_task.num_nodes)
    model = GraphSAGE(12, 16, 4, num_layers=2).eval()
    torch.testing.assert_close(layerwise_inference(model, graph, small_task.x),
                               layerwise_inference(model, graph, DenseFeatures(small_task.x)))


def test_as_feature_source_wraps_tensors_and_keeps_stores(small_task):
    from carbide.compression.featquant import as_feature_source, quantize

    wrapped = as_feature_source(small_task.x.double())
    assert isinstance(wrapped, DenseFeatures) and wrapped.x.dtype == torch.float32
    store = quantize(small_task.x, "sq", bits=2)
    assert as_feature_source(store) is store
    with pytest.raises(InvalidConfigError, match=r"shape \(N, D\)"):
        as_feature_source(small_task.x[0])


def test_same_seed_same_result_other_seed_differs(small_task):
    cfg = TrainConfig(fanouts=(4, 4), hidden=16, epochs=2, batch_size=64, seed=5)
    feats = DenseFeatures(small_task.x)
    a = train_node_classifier(small_task, feats, cfg, progress=False)
    b = train_node_classifier(small_task, feats, cfg, progress=False)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert (a.test_acc, a.val_acc, a.best_epoch) == (b.test_acc, b.val_acc, b.best_epoch)
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(p, q)
    c = train_node_classifier(small_task, feats, TrainConfig(
        fanouts=(4, 4), hidden=16, epochs=2, batch_size=64, seed=6), progress=False)
    assert [h["loss"] for h in a.history] != [h["loss"] for h in c.history]


def test_eval_every_zero_evaluates_only_at_the_end(small_task):
    cfg = TrainConfig(fanouts=(3,), hidden=8, epochs=3, batch_size=128, eval_every=0)
    res = train_node_classifier(small_task, DenseFeatures(small_task.x), cfg, progress=False)
    assert [h["val_acc"] is None for h in res.history] == [True, True, False]
    assert res.best_epoch == 3


def test_custom_sampler_is_used(small_task):
    graph = CSRGraph.from_edge_index(small_task.edge_index, small_task.num_nodes)
    inner = NeighborSampler(graph, (2, 2), seed=0)
    seen = []

    class Plain:  # only n_id, edge_index, batch_size: no per-hop counts, so no trimming
        def sample(self, seeds):
            seen.append(int(seeds.numel()))
            sub = inner.sample(seeds)
            return SimpleNamespace(n_id=sub.n_id, edge_index=sub.edge_index,
                                   batch_size=sub.batch_size)

    cfg = TrainConfig(fanouts=(2, 2), hidden=8, epochs=1, batch_size=100)
    res = train_node_classifier(small_task, DenseFeatures(small_task.x), cfg, sampler=Plain(),
                                progress=False)
    assert seen == [100, 100] and math.isfinite(res.history[0]["loss"])


def test_bad_inputs_rejected(small_task):
    feats = DenseFeatures(small_task.x)
    with pytest.raises(InvalidConfigError, match="rows"):
        train_node_classifier(small_task, DenseFeatures(small_task.x[:10]), progress=False)
    with pytest.raises(InvalidConfigError, match="float tensor"):
        train_node_classifier(small_task, small_task.x.numpy(), progress=False)
    with pytest.raises(InvalidConfigError, match="floating point"):
        train_node_classifier(small_task, small_task.x.long(), progress=False)
    no_mask = small_task.clone()
    del no_mask.val_mask
    with pytest.raises(InvalidConfigError, match="val_mask"):
        train_node_classifier(no_mask, feats, progress=False)
    with pytest.raises(InvalidConfigError, match="sample"):
        train_node_classifier(small_task, feats, sampler=object(), progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(InvalidConfigError, match="CUDA"):
            train_node_classifier(small_task, feats, TrainConfig(device="cuda"), progress=False)


@pytest.mark.data
def test_cora_reaches_good_accuracy(shared_root):
    require_dataset(shared_root, "planetoid/Cora/raw/ind.cora.x")
    from carbide.datasets import load_planetoid

    data = load_planetoid("cora", shared_root)
    cfg = TrainConfig(fanouts=(10, 10), hidden=64, epochs=8, batch_size=32, seed=0)
    res = train_node_classifier(data, DenseFeatures(data.x), cfg, progress=False)
    # chance is ~0.32 (the majority class); GraphSAGE reaches ~0.8 on the public split
    assert res.test_acc > 0.7, res.history
    again = train_node_classifier(data, DenseFeatures(data.x), cfg, progress=False)
    assert (again.test_acc, again.val_acc, again.best_epoch) == (
        res.test_acc, res.val_acc, res.best_epoch)

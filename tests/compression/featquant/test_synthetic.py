"""Tests of the synthetic power-law graphs and tasks (carbide.compression.featquant.synthetic)."""

from __future__ import annotations

import pytest

from carbide.exceptions import InvalidConfigError

torch = pytest.importorskip("torch")

from carbide.compression.featquant.synthetic import (  # noqa: E402
    power_law_graph,
    synthetic_node_task,
)


@pytest.fixture(scope="module")
def edges():
    return power_law_graph(3000, avg_degree=8, seed=0)


def test_graph_is_simple_and_symmetric(edges):
    n = 3000
    assert edges.dtype == torch.long and edges.dim() == 2 and edges.size(0) == 2
    assert int(edges.min()) >= 0 and int(edges.max()) < n
    assert not bool((edges[0] == edges[1]).any()), "no self loops"
    keys = edges[0] * n + edges[1]
    assert torch.unique(keys).numel() == keys.numel(), "no duplicate edges"
    reverse = torch.sort(edges[1] * n + edges[0]).values
    assert torch.equal(torch.sort(keys).values, reverse), "every edge in both directions"


def test_average_degree_hits_target(edges):
    assert edges.size(1) / 3000 == pytest.approx(8, rel=0.01)


def test_degree_distribution_is_heavy_tailed(edges):
    deg = torch.bincount(edges[0], minlength=3000).float()
    mean, median = float(deg.mean()), float(deg.median())
    assert float(deg.max()) > 8 * mean
    assert median < mean, "power law: most nodes below the mean, a few hubs far above"
    # a Poisson graph of the same mean (Erdos-Renyi) would have max degree ~ 2x mean
    top = torch.sort(deg, descending=True).values
    assert float(top[:30].sum()) > 0.1 * float(deg.sum()), "1% of nodes hold > 10% of edges"


def test_max_degree_caps_hubs():
    deg = torch.bincount(power_law_graph(3000, 8, seed=0, max_degree=20)[0], minlength=3000)
    assert int(deg.max()) < 45  # expected degrees capped at 20; realized ones fluctuate


def test_same_seed_same_graph_other_seed_other_graph():
    a = power_law_graph(500, 6, seed=3)
    assert torch.equal(a, power_law_graph(500, 6, seed=3))
    assert not torch.equal(a, power_law_graph(500, 6, seed=4))


def test_homophily_joins_same_labels():
    labels = torch.arange(2000) % 4
    ei = power_law_graph(2000, 10, seed=1, labels=labels, homophily=0.9)
    same = float((labels[ei[0]] == labels[ei[1]]).float().mean())
    assert same > 0.8  # 0.9 + 0.1 / 4 expected; 0.25 without homophily
    ei0 = power_law_graph(2000, 10, seed=1, labels=labels, homophily=0.0)
    assert float((labels[ei0[0]] == labels[ei0[1]]).float().mean()) < 0.4


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"num_nodes": 1}, "num_nodes"),
        ({"num_nodes": 10, "avg_degree": 0}, "avg_degree"),
        ({"num_nodes": 10, "avg_degree": 20}, "avg_degree"),
        ({"num_nodes": 10, "avg_degree": 3, "exponent": 2.0}, "exponent"),
        ({"num_nodes": 10, "avg_degree": 3, "homophily": 0.5}, "labels"),
        ({"num_nodes": 10, "avg_degree": 3, "homophily": 1.5,
          "labels": torch.zeros(10, dtype=torch.long)}, "homophily"),
        ({"num_nodes": 10, "avg_degree": 3, "max_degree": 2}, "max_degree"),
        ({"num_nodes": 10, "avg_degree": 3, "labels": torch.zeros(9, dtype=torch.long)}, "labels"),
    ],
)
def test_power_law_graph_rejects_bad_arguments(kwargs, needle):
    with pytest.raises(InvalidConfigError, match=needle):
        power_law_graph(**kwargs)


def test_synthetic_node_task_contract():
    pytest.importorskip("torch_geometric")
    data = synthetic_node_task(1000, num_features=16, num_classes=5, avg_degree=6, seed=2,
                               noise=2.0)
    n = 1000
    assert data.num_nodes == n
    assert data.x.shape == (n, 16) and data.x.dtype == torch.float32
    assert data.y.shape == (n,) and int(data.y.min()) >= 0 and int(data.y.max()) == 4
    masks = torch.stack([data.train_mask, data.val_mask, data.test_mask])
    assert masks.dtype == torch.bool
    assert torch.equal(masks.sum(0), torch.ones(n, dtype=torch.long)), "disjoint, covering"
    assert int(data.train_mask.sum()) == 100 and int(data.val_mask.sum()) == 100
    # features carry the class: nearest class mean beats chance clearly
    means = torch.stack([data.x[data.y == c].mean(0) for c in range(5)])
    pred = torch.cdist(data.x, means).argmin(1)
    assert float((pred == data.y).float().mean()) > 0.35
    again = synthetic_node_task(1000, num_features=16, num_classes=5, avg_degree=6, seed=2,
                                noise=2.0)
    assert torch.equal(data.x, again.x) and torch.equal(data.edge_index, again.edge_index)


def test_synthetic_node_task_rejects_bad_split():
    pytest.importorskip("torch_geometric")
    with pytest.raises(InvalidConfigError, match="train_fraction"):
        synthetic_node_task(100, train_fraction=0.8, val_fraction=0.5)

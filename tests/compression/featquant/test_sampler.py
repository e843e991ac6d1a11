"""Tests of the plain-torch CSR neighbour sampler (carbide.compression.featquant.sampler)."""

from __future__ import annotations

import pytest

from carbide.exceptions import InvalidConfigError

torch = pytest.importorskip("torch")

from carbide.compression.featquant.sampler import (  # noqa: E402
    CSRGraph,
    NeighborSampler,
    NodeBatches,
    check_fanouts,
)


def _random_graph(n: int = 60, e: int = 600, seed: int = 0) -> tuple[torch.Tensor, int]:
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(n, (e,), generator=gen)
    dst = torch.randint(n, (e,), generator=gen)
    keep = src != dst
    ei = torch.unique(torch.stack([src[keep], dst[keep]]), dim=1)  # no repeated edges
    return ei, n


def _in_neighbours(ei: torch.Tensor, n: int) -> list[set[int]]:
    out: list[set[int]] = [set() for _ in range(n)]
    for s, d in ei.t().tolist():
        out[d].add(s)
    return out


@pytest.fixture
def graph():
    ei, n = _random_graph()
    return ei, n, CSRGraph.from_edge_index(ei, n)


def _hub_graph(degree: int = 40) -> CSRGraph:
    """Node 0 has in-neighbours 1..degree."""
    src = torch.arange(1, degree + 1)
    return CSRGraph.from_edge_index(torch.stack([src, torch.zeros_like(src)]), degree + 1)


# ----- CSRGraph -----


def test_csr_matches_edge_list(graph):
    ei, n, g = graph
    assert g.num_nodes == n and g.num_edges == ei.size(1)
    assert g.indptr.dtype == torch.long and g.indices.dtype == torch.long
    nbrs = _in_neighbours(ei, n)
    for v in range(n):
        row = g.indices[g.indptr[v]: g.indptr[v + 1]].tolist()
        assert sorted(row) == sorted(nbrs[v])
    assert g.degree().tolist() == [len(s) for s in nbrs]


@pytest.mark.parametrize(
    ("edge_index", "num_nodes", "needle"),
    [
        (torch.tensor([[0, 1], [1, 5]]), 5, "node 5"),
        (torch.tensor([[0, -1], [1, 2]]), 5, "node -1"),
        (torch.tensor([0, 1, 2]), 5, "shape (2, E)"),
        (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), 5, "integer"),
        ([[0, 1], [1, 0]], 5, "torch.Tensor"),
        (torch.tensor([[0, 1], [1, 0]]), -1, "num_nodes"),
    ],
)
def test_from_edge_index_rejects_bad_input(edge_index, num_nodes, needle):
    with pytest.raises(InvalidConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        CSRGraph.from_edge_index(edge_index, num_nodes)


def test_csr_rejects_inconsistent_arrays():
    with pytest.raises(InvalidConfigError, match="indptr"):
        CSRGraph(torch.tensor([0, 2, 1]), torch.tensor([0]))
    with pytest.raises(InvalidConfigError, match="node 7"):
        CSRGraph(torch.tensor([0, 1, 2]), torch.tensor([0, 7]))


# ----- fanout validation -----


@pytest.mark.parametrize("bad", [(), (0,), (5, -2), (2.5,), (True,), "5", 5, (5, None)])
def test_bad_fanouts_rejected_with_the_allowed_values(bad, graph):
    with pytest.raises(InvalidConfigError, match=">= 1 or -1"):
        check_fanouts(bad)
    with pytest.raises(InvalidConfigError):
        NeighborSampler(graph[2], bad)


def test_fanouts_accept_lists_and_minus_one():
    assert check_fanouts([3, -1]) == (3, -1)


# ----- NeighborSampler -----


def _check_subgraph(sub, seeds, fanouts, g, nbrs, *, replace=False):
    n_id = sub.n_id.tolist()
    assert sub.n_id.dtype == torch.long and sub.edge_index.dtype == torch.long
    assert n_id[: len(seeds)] == seeds.tolist(), "seeds must come first in the given order"
    assert len(set(n_id)) == len(n_id), "each node appears once in n_id"
    assert sub.batch_size == len(seeds)
    assert len(sub.num_sampled_nodes) == len(fanouts) + 1
    assert len(sub.num_sampled_edges) == len(fanouts)
    assert sum(sub.num_sampled_nodes) == len(n_id)
    assert sum(sub.num_sampled_edges) == sub.edge_index.size(1)
    deg = g.degree()
    # walk the hops: edges of hop h end at nodes first reached in hop h - 1
    node_lo, edge_lo = 0, 0
    for hop, k in enumerate(fanouts):
        node_hi = node_lo + sub.num_sampled_nodes[hop]
        edge_hi = edge_lo + sub.num_sampled_edges[hop]
        src, dst = sub.edge_index[:, edge_lo:edge_hi]
        assert bool(((dst >= node_lo) & (dst < node_hi)).all())
        # the sources are within the nodes known after this hop
        assert bool((src < node_hi + sub.num_sampled_nodes[hop + 1]).all())
        per_dst: dict[int, list[int]] = {}
        for s, d in zip(src.tolist(), dst.tolist(), strict=True):
            gs, gd = n_id[s], n_id[d]
            assert gs in nbrs[gd], f"{gs} is not an in-neighbour of {gd}"
            per_dst.setdefault(d, []).append(gs)
        for d in range(node_lo, node_hi):
            picked = per_dst.get(d, [])
            d_glob = n_id[d]
            if k == -1:
                assert sorted(picked) == sorted(nbrs[d_glob])
            elif replace:
                assert len(picked) == (k if deg[d_glob] > 0 else 0)
            else:
                assert len(picked) == min(k, int(deg[d_glob]))
                assert len(set(picked)) == len(picked), "without replacement: distinct"
        # every newly reached node of the next hop is a source of this hop's edges
        new_nodes = set(range(node_hi, node_hi + sub.num_sampled_nodes[hop + 1]))
        assert new_nodes <= set(src.tolist())
        node_lo, edge_lo = node_hi, edge_hi


@pytest.mark.parametrize("fanouts", [(3, 2), (5,), (2, -1), (1, 1, 1), (-1, 4)])
def test_samples_respect_fanouts_and_neighbourhoods(graph, fanouts):
    ei, n, g = graph
    nbrs = _in_neighbours(ei, n)
    sampler = NeighborSampler(g, fanouts, seed=3)
    seeds = torch.tensor([7, 3, 41, 0, 12])
    for _ in range(3):
        _check_subgraph(sampler.sample(seeds), seeds, fanouts, g, nbrs)


def test_with_replacement_draws_exactly_k(graph):
    ei, n, g = graph
    nbrs = _in_neighbours(ei, n)
    sampler = NeighborSampler(g, (4, 3), replace=True, seed=1)
    seeds = torch.tensor([1, 2, 3])
    _check_subgraph(sampler.sample(seeds), seeds, (4, 3), g, nbrs, replace=True)


def test_same_seed_reproduces_and_other_seed_differs(graph):
    g = graph[2]
    seeds = torch.tensor([5, 9, 30, 2])
    a, b, c = (NeighborSampler(g, (3, 3), seed=s) for s in (0, 0, 1))
    runs_a = [a.sample(seeds) for _ in range(3)]
    runs_b = [b.sample(seeds) for _ in range(3)]
    for x, y in zip(runs_a, runs_b, strict=True):
        assert torch.equal(x.n_id, y.n_id) and torch.equal(x.edge_index, y.edge_index)
    runs_c = [c.sample(seeds) for _ in range(3)]
    assert any(not torch.equal(x.n_id, y.n_id) for x, y in zip(runs_a, runs_c, strict=True))
    # consecutive calls draw fresh samples
    assert any(not torch.equal(runs_a[0].n_id, r.n_id) for r in runs_a[1:])


def test_state_does_not_leak_between_calls(graph):
    g = graph[2]
    sampler = NeighborSampler(g, (-1, -1))
    first = sampler.sample(torch.tensor([3, 4]))
    other = sampler.sample(torch.tensor([10]))
    again = sampler.sample(torch.tensor([3, 4]))
    assert torch.equal(first.n_id, again.n_id)
    assert torch.equal(first.edge_index, again.edge_index)
    assert other.n_id[0] == 10


def test_all_neighbours_of_a_hub():
    g = _hub_graph(40)
    sub = NeighborSampler(g, (-1,)).sample(torch.tensor([0]))
    assert sorted(sub.n_id[1:].tolist()) == list(range(1, 41))
    assert sub.edge_index.size(1) == 40


def test_without_replacement_is_uniform_over_neighbours():
    degree, k, draws = 40, 5, 4000
    g = _hub_graph(degree)
    sampler = NeighborSampler(g, (k,), seed=0)
    counts = torch.zeros(degree + 1)
    for _ in range(draws):
        sub = sampler.sample(torch.tensor([0]))
        picked = sub.n_id[sub.edge_index[0]]
        assert picked.unique().numel() == k
        counts[picked] += 1
    observed = counts[1:]
    expected = draws * k / degree  # 500 per neighbour
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    # 39 degrees of freedom: mean 39, sd ~8.8; 100 is > 6 sd, yet a biased sampler that
    # favoured the first or last neighbours by 20% would score in the hundreds
    assert chi2 < 100, (chi2, observed.tolist())


def test_sampling_low_degree_node_keeps_all_neighbours():
    g = _hub_graph(3)
    sub = NeighborSampler(g, (10,)).sample(torch.tensor([0]))
    assert sorted(sub.n_id[1:].tolist()) == [1, 2, 3]


def test_empty_seeds_give_an_empty_subgraph(graph):
    sub = NeighborSampler(graph[2], (3, 2)).sample(torch.empty(0, dtype=torch.long))
    assert sub.n_id.numel() == 0 and sub.edge_index.shape == (2, 0)
    assert sub.batch_size == 0
    assert sub.num_sampled_nodes == [0, 0, 0] and sub.num_sampled_edges == [0, 0]


def test_isolated_seed_has_no_edges():
    g = CSRGraph.from_edge_index(torch.tensor([[0], [1]]), 3)
    sub = NeighborSampler(g, (5, 5)).sample(torch.tensor([2]))
    assert sub.n_id.tolist() == [2] and sub.edge_index.size(1) == 0


def test_bad_seeds_rejected(graph):
    sampler = NeighborSampler(graph[2], (2,))
    with pytest.raises(InvalidConfigError, match="distinct"):
        sampler.sample(torch.tensor([1, 1]))
    with pytest.raises(IndexError, match="out of range"):
        sampler.sample(torch.tensor([10_000]))
    with pytest.raises(InvalidConfigError, match="CSRGraph"):
        NeighborSampler(graph[0], (2,))


# ----- NodeBatches -----


def test_node_batches_cover_every_node_once_per_epoch():
    nodes = torch.arange(10, 33)
    batches = NodeBatches(nodes, 5, seed=4)
    assert len(batches) == 5
    epochs = [torch.cat(list(batches)) for _ in range(3)]
    for order in epochs:
        assert sorted(order.tolist()) == nodes.tolist()
    assert not torch.equal(epochs[0], epochs[1]), "reshuffled each epoch"
    again = NodeBatches(nodes, 5, seed=4)
    assert all(torch.equal(torch.cat(list(again)), e) for e in epochs), "reproducible"
    again.set_epoch(1)
    assert torch.equal(torch.cat(list(again)), epochs[1])


def test_node_batches_from_mask_and_without_shuffle():
    mask = torch.tensor([True, False, True, True, False])
    batches = NodeBatches(mask, 2, shuffle=False)
    assert [b.tolist() for b in batches] == [[0, 2], [3]]
    with pytest.raises(InvalidConfigError, match="batch_size"):
        NodeBatches(mask, 0)

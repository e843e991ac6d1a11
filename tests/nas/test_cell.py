"""Cells: canonical hashing, validation rules, pruning."""

from __future__ import annotations

import numpy as np
import pytest

from carbide.exceptions import CarbideError, InvalidArchitectureError, MissingDependencyError
from carbide.nas import Cell, NB101Space, NB201Space, validate_cell
from carbide.nas.cell import canonical_hash
from tests.conftest import mask_module

OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")


def _permuted(cell: Cell, rng: np.random.Generator, *, topological: bool = True) -> Cell:
    n = cell.num_nodes
    if topological:
        # A random topological order keeps the matrix upper triangular (a valid relabelling).
        indeg = cell.adjacency.sum(axis=0).astype(int)
        ready = [v for v in range(n) if indeg[v] == 0]
        order = []
        while ready:
            v = ready.pop(int(rng.integers(0, len(ready))))
            order.append(v)
            for w in np.flatnonzero(cell.adjacency[v]):
                indeg[w] -= 1
                if indeg[w] == 0:
                    ready.append(int(w))
        perm = np.asarray(order)
    else:
        perm = rng.permutation(n)
    return Cell(cell.adjacency[np.ix_(perm, perm)], tuple(cell.ops[i] for i in perm))


@pytest.mark.parametrize("max_nodes", [7, 12, 30])
def test_hash_invariant_under_random_node_permutations(max_nodes):
    rng = np.random.default_rng(max_nodes)
    space = NB101Space(max_nodes=max_nodes)
    for _ in range(40):
        cell = space.sample(rng)
        for topological in (True, False):
            other = _permuted(cell, rng, topological=topological)
            assert other.hash() == cell.hash()
            assert other.is_isomorphic(cell)
        canon = cell.canonical()
        assert other.canonical() == canon
        assert space.is_valid(canon) and canon.hash() == cell.hash()


def test_hash_separates_non_isomorphic_cells():
    rng = np.random.default_rng(1)
    space = NB101Space()
    cells = [space.sample(rng) for _ in range(300)]
    # Ground truth from networkx's VF2 matcher on labelled graphs.
    import networkx as nx

    match = nx.algorithms.isomorphism.categorical_node_match("op", None)
    by_hash: dict[str, Cell] = {}
    for cell in cells:
        rep = by_hash.setdefault(cell.hash(), cell)
        assert nx.is_isomorphic(rep.to_networkx(), cell.to_networkx(), node_match=match)
    reps = list(by_hash.values())
    for a in reps[:60]:
        for b in reps[:60]:
            if a is not b:
                assert not nx.is_isomorphic(a.to_networkx(), b.to_networkx(), node_match=match)


def test_hash_distinguishes_regular_graphs_that_refinement_alone_cannot():
    # Two directed 6-cycles vs one 12-cycle-like pair of 3-cycles: colour refinement gives
    # every node the same colour in both, only the individualization search tells them apart.
    def cycles(lengths):
        n = sum(lengths)
        adj = np.zeros((n, n), dtype=np.uint8)
        start = 0
        for k in lengths:
            for i in range(k):
                adj[start + i, start + (i + 1) % k] = 1
            start += k
        return adj

    ops = ["x"] * 6
    assert canonical_hash(cycles([3, 3]), ops) != canonical_hash(cycles([6]), ops)
    assert not canonical_hash(cycles([3, 3]), ops).startswith("wl-")


def test_hash_falls_back_for_huge_symmetric_graphs_and_stays_invariant():
    # 14 identical parallel 2-chains: 14! leaf orders, beyond the search budget.
    n, edges, ops = 30, [], ["input"]
    for i in range(14):
        a = 1 + 2 * i
        edges += [(0, a), (a, a + 1), (a + 1, n - 1)]
        ops += ["conv3x3-bn-relu", "maxpool3x3"]
    ops += ["conv1x1-bn-relu"] * (n - 1 - len(ops)) + ["output"]
    cell = Cell.from_edges(n, edges, ops)
    assert cell.hash().startswith("wl-")
    other = _permuted(cell, np.random.default_rng(0))
    assert other.hash() == cell.hash()


def test_equality_and_python_hash_are_exact_and_consistent():
    a = Cell.from_edges(3, [(0, 1), (1, 2)], ["input", "maxpool3x3", "output"])
    b = Cell(np.array(a.adjacency), list(a.ops))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Cell(a.adjacency, a.ops, arch="x")
    assert a.adjacency.dtype == np.uint8 and not a.adjacency.flags.writeable
    assert Cell.from_dict(a.to_dict()) == a


def test_prune_drops_nodes_off_every_path():
    # node 2 is a dead end, node 3 has no input: both go.
    cell = Cell.from_edges(5, [(0, 1), (1, 4), (1, 2), (3, 4)],
                           ["input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output"])
    pruned = cell.prune()
    assert pruned.ops == ("input", "conv3x3-bn-relu", "output")
    assert pruned.adjacency.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    assert pruned.prune() is pruned
    with pytest.raises(InvalidArchitectureError, match="unreachable"):
        Cell.from_edges(3, [(0, 1)], ["input", "maxpool3x3", "output"]).prune()


@pytest.mark.parametrize(
    ("edges", "ops", "kwargs", "rule"),
    [
        ([(0, 1), (1, 2), (2, 1)], ["input", "maxpool3x3", "maxpool3x3"], {}, "labels"),
        ([(0, 2), (2, 1), (1, 3)], ["input", "maxpool3x3", "maxpool3x3", "output"], {}, "cycle"),
        ([(0, 1), (1, 2)], ["input", "conv5x5", "output"], {"ops": OPS}, "unknown op"),
        ([(0, 1), (1, 2), (2, 3)], ["input", "maxpool3x3", "maxpool3x3", "output"],
         {"max_nodes": 3}, "too many nodes"),
        ([(0, 1), (1, 2), (0, 2)], ["input", "maxpool3x3", "output"], {"max_edges": 2},
         "too many edges"),
        ([(0, 1), (1, 3), (0, 2)], ["input", "maxpool3x3", "maxpool3x3", "output"], {},
         "unreachable"),
        ([(0, 1)], ["input", "maxpool3x3", "output"], {}, "unreachable"),
        ([(0, 1), (1, 2)], ["input", "input", "output"], {}, "labels"),
    ],
)
def test_validation_rules_each_raise_with_the_rule_named(edges, ops, kwargs, rule):
    cell = Cell.from_edges(len(ops), edges, ops)
    with pytest.raises(InvalidArchitectureError, match=f"^{rule}") as info:
        validate_cell(cell, **kwargs)
    assert isinstance(info.value, CarbideError) and isinstance(info.value, ValueError)


def test_bad_shapes_raise_on_construction():
    with pytest.raises(InvalidArchitectureError, match="^shape"):
        Cell(np.zeros((2, 3)), ("input", "output"))
    with pytest.raises(InvalidArchitectureError, match="^shape"):
        Cell(np.zeros((3, 3)), ("input", "output"))
    with pytest.raises(InvalidArchitectureError, match="^shape"):
        Cell(np.full((2, 2), 2), ("input", "output"))


def test_nb201_cells_hash_equal_when_isomorphic():
    # Keys differing only in edges that are cut off give the same DAG.
    a, b = NB201Space.to_cell("000100"), NB201Space.to_cell("000120")
    assert a.hash() == b.hash() and a.arch != b.arch and a != b


def test_to_networkx_without_networkx_names_the_extra(monkeypatch):
    cell = Cell.from_edges(3, [(0, 1), (1, 2)], ["input", "maxpool3x3", "output"])
    graph = cell.to_networkx()
    assert sorted(graph.edges) == [(0, 1), (1, 2)] and graph.nodes[1]["op"] == "maxpool3x3"
    mask_module(monkeypatch, "networkx")
    with pytest.raises(MissingDependencyError, match=r"carbide\[nas\]"):
        cell.to_networkx()
    assert cell.hash()  # hashing needs no networkx

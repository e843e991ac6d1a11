"""Search spaces: sampling and mutation stay valid; NB201 conversion; table moves."""

from __future__ import annotations

import numpy as np
import pytest

from carbide.datasets import NASBench101, NASBench201
from carbide.datasets.nasbench import nb201_key_to_arch_str
from carbide.exceptions import InvalidArchitectureError, InvalidConfigError
from carbide.nas import (
    Cell,
    NB101Space,
    NB201Space,
    TableSpace,
    default_max_edges,
    make_space,
)
from carbide.testing import write_nasbench101_fixture, write_nasbench201_fixture


@pytest.mark.parametrize("space", [NB101Space(), NB101Space(max_nodes=12), NB101Space(30),
                                   NB201Space()], ids=repr)
def test_sampling_and_mutation_always_valid(space):
    rng = np.random.default_rng(0)
    for _ in range(60):
        cell = space.sample(rng)
        assert space.is_valid(cell)
        child = space.mutate(cell, rng)
        assert space.is_valid(child)
        if isinstance(space, NB201Space):
            assert sum(a != b for a, b in zip(child.arch, cell.arch, strict=True)) == 1
        else:
            assert child.hash() != cell.hash()
            assert child.num_nodes <= space.max_nodes
            assert child.num_edges <= space.max_edges


def test_large_cells_use_the_whole_node_budget():
    rng = np.random.default_rng(3)
    space = make_space("cell:30")
    assert space.max_edges == default_max_edges(30) == 55
    cells = [space.sample(rng) for _ in range(20)]
    assert all(c.num_nodes == 30 for c in cells)
    assert len({c.hash() for c in cells}) == 20


def test_nb101_sampler_is_reproducible_and_varied():
    a = [NB101Space().sample(np.random.default_rng(5)) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(5)
    assert len({NB101Space().sample(rng).hash() for _ in range(50)}) > 30


def test_nb201_conversion_round_trip():
    space = NB201Space()
    for i in range(0, 5 ** 6, 97):
        key = "".join(str((i // 5 ** p) % 5) for p in reversed(range(6)))
        cell = space.to_cell(key)
        assert cell.arch == key
        assert space.to_cell(nb201_key_to_arch_str(key)) == cell
        assert space.to_arch(cell) == key
        space.validate(cell)
        # Without the key, the DAG maps back to an isomorphic architecture.
        bare = Cell(cell.adjacency, cell.ops)
        assert space.to_cell(space.to_arch(bare)).hash() == cell.hash()


def test_nb201_conversion_matches_the_standard_dag():
    # |nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|
    cell = NB201Space.to_cell("301402")
    assert cell.ops == ("input", "nor_conv_3x3", "skip_connect", "avg_pool_3x3",
                        "nor_conv_1x1", "output")
    edges = {tuple(int(x) for x in e) for e in np.argwhere(cell.adjacency)}
    assert edges == {(0, 1), (1, 2), (2, 4), (0, 3), (3, 5), (4, 5)}
    dead = NB201Space.to_cell("000033")  # nodes 1 and 2 get nothing: output cut off
    assert dead.ops == ("input", "output") and dead.num_edges == 0
    assert NB201Space().is_valid(dead)


def test_nb201_rejects_cells_without_a_matching_arch():
    space = NB201Space()
    cell = space.to_cell("130202")
    with pytest.raises(InvalidArchitectureError, match="labels"):
        space.validate(Cell(cell.adjacency, cell.ops))
    with pytest.raises(InvalidArchitectureError, match="labels"):
        space.validate(Cell(cell.adjacency, cell.ops, "111111"))
    with pytest.raises(InvalidArchitectureError, match="unknown op"):
        space.to_cell("13020x")


def test_table_space_moves_to_nearest_table_cells(tmp_path):
    bench = NASBench201.from_file(write_nasbench201_fixture(tmp_path, num_cells=40))
    space = make_space("nb201", bench=bench)
    assert isinstance(space, TableSpace) and len(space) == 40
    rng = np.random.default_rng(0)
    local = TableSpace.from_nb201(bench, neighbors=5, explore=0.0)
    nearest = TableSpace.from_nb201(bench, neighbors=1, explore=0.0)
    jumps = TableSpace.from_nb201(bench, explore=1.0)
    far = 0
    for _ in range(30):
        cell = space.sample(rng)
        child = space.mutate(cell, rng)
        assert child in space.cells and child != cell
        # Fixture keys 000000..001234 in base 5: each has >= 5 keys one digit away, so the
        # 5 nearest differ in one digit.
        for sp in (local, nearest):
            child = sp.mutate(cell, rng)
            assert sum(a != b for a, b in zip(child.arch, cell.arch, strict=True)) == 1
        child = jumps.mutate(cell, rng)
        assert child != cell
        far += sum(a != b for a, b in zip(child.arch, cell.arch, strict=True)) > 1
    assert far > 5
    with pytest.raises(InvalidArchitectureError):
        space.validate(NB201Space.to_cell("444444"))


def test_table_space_from_nb101_fixture(tmp_path):
    bench = NASBench101.from_file(write_nasbench101_fixture(tmp_path, num_cells=5))
    space = make_space("nb101", bench=bench)
    assert len(space) == 5
    rng = np.random.default_rng(0)
    cell = space.sample(rng)
    assert bench.query(cell.arch)["val_acc"] >= 90
    assert space.mutate(cell, rng) in space.cells


@pytest.mark.data
def test_table_space_on_the_nb101_subset(shared_root):
    space = make_space("nb101", bench=NASBench101.load(shared_root))
    assert len(space) == 500
    rng = np.random.default_rng(0)
    cell = space.sample(rng)
    child = space.mutate(cell, rng)
    assert child != cell and child in space.cells


@pytest.mark.parametrize("spec", ["nb301", "cell:1", "cell:x", ""])
def test_make_space_rejects_unknown_specs(spec):
    with pytest.raises(InvalidConfigError, match="nb201"):
        make_space(spec)


def test_space_config_is_validated():
    with pytest.raises(InvalidConfigError, match="max_nodes"):
        NB101Space(max_nodes=1)
    with pytest.raises(InvalidConfigError, match="ops"):
        NB101Space(ops=("input",))
    with pytest.raises(InvalidConfigError, match="max_edges"):
        NB101Space(max_nodes=20, max_edges=5)

"""Evaluators: table look-ups (fixtures and real files), caching, the training evaluator."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from carbide.datasets import NASBench101, NASBench201
from carbide.exceptions import DatasetCorruptError, InvalidArchitectureError, InvalidConfigError
from carbide.nas import (
    Cell,
    CellNetwork,
    Evaluation,
    NB101Evaluator,
    NB101Space,
    NB201Evaluator,
    NB201Space,
    TrainingEvaluator,
    make_evaluator,
    make_space,
)
from carbide.testing import write_nasbench101_fixture, write_nasbench201_fixture


@pytest.fixture
def nb201_fixture(tmp_path):
    return NASBench201.from_file(write_nasbench201_fixture(tmp_path, num_cells=40))


@pytest.fixture
def nb101_fixture(tmp_path):
    return NASBench101.from_file(write_nasbench101_fixture(tmp_path, num_cells=5))


def test_nb201_lookup_charges_train_time_once(nb201_fixture):
    ev = NB201Evaluator(nb201_fixture)
    cell = NB201Space.to_cell("000003")  # fixture cell i=3: val_acc [3, 5], train_time 103
    result = ev(cell)
    assert result.val_acc == pytest.approx(4.0) and result.cost_s == pytest.approx(103.0)
    assert result.params == pytest.approx(0.4e6) and result.extra["arch"] == "000003"
    assert ev.queries == 1 and ev.total_cost_s == pytest.approx(103.0)
    assert ev.seen(cell) and ev(cell) is result
    assert ev.queries == 1 and ev.total_cost_s == pytest.approx(103.0)
    # The optimum is the fixture's best seed mean (cell 39: [39, 40, 41]).
    assert ev.optimum() == pytest.approx(40.0)


def test_nb201_trial_modes(nb201_fixture):
    cell = NB201Space.to_cell("000003")
    assert NB201Evaluator(nb201_fixture, trial=1)(cell).val_acc == pytest.approx(5.0)
    assert NB201Evaluator(nb201_fixture, trial=2)(cell).val_acc == pytest.approx(3.0)
    draws = {NB201Evaluator(nb201_fixture, trial="random", seed=s)(cell).val_acc
             for s in range(20)}
    assert draws == {3.0, 5.0}
    assert NB201Evaluator(nb201_fixture, trial=0).optimum() == pytest.approx(39.0)
    with pytest.raises(InvalidConfigError, match="trial"):
        NB201Evaluator(nb201_fixture, trial="median")
    with pytest.raises(InvalidConfigError, match="cifar10"):
        NB201Evaluator(nb201_fixture, dataset="imagenet")


def test_nb201_cell_outside_the_table_is_a_key_error(nb201_fixture):
    with pytest.raises(KeyError, match="not in"):
        NB201Evaluator(nb201_fixture)(NB201Space.to_cell("444444"))


def test_nb101_lookup_by_key_matrix_and_isomorphism(nb101_fixture):
    ev = NB101Evaluator(nb101_fixture)
    space = make_space("nb101", bench=nb101_fixture)
    table = space.cells[2]
    result = ev(table)
    assert result.val_acc == pytest.approx(92.0) and result.cost_s is None
    assert result.params == pytest.approx(3e6) and result.flops == pytest.approx(30e6)
    assert "synflow" in result.extra
    # Same matrix without the key, and a relabelled isomorphic copy, find the same entry.
    bare = Cell(table.adjacency, table.ops)
    perm = np.array([0, 2, 1, 3, 4, 5, 6]) if not table.adjacency[1, 2] else np.arange(7)
    shuffled = Cell(table.adjacency[np.ix_(perm, perm)], tuple(table.ops[i] for i in perm))
    assert ev.key(bare) == ev.key(shuffled) == table.arch
    assert ev.queries == 1
    with pytest.raises(KeyError, match="isomorphism"):
        ev(Cell.from_edges(3, [(0, 1), (1, 2)], ["input", "maxpool3x3", "output"]))


def test_bad_benchmark_files_give_clear_errors(tmp_path):
    bad = tmp_path / "nasbench201" / "cifar10.pkl"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(pickle.dumps({"000000": {"val_acc": [1.0]}}))
    with pytest.raises(DatasetCorruptError, match="expected"):
        make_evaluator("nb201", NASBench201.from_file(bad))
    text = tmp_path / "zc.json"
    text.write_text("{not json")
    with pytest.raises(DatasetCorruptError, match="JSON"):
        NASBench101.from_file(text)
    with pytest.raises(InvalidConfigError, match="bench"):
        make_evaluator("nb201")


@pytest.mark.data
def test_real_tables(shared_root):
    nb201 = NASBench201.load(shared_root)
    ev = make_evaluator("nb201", nb201)
    result = ev(NB201Space.to_cell("333333"))
    assert 85.0 < result.val_acc < 95.0 and result.cost_s > 0
    assert ev.optimum() == pytest.approx(nb201.best()["val_acc"])
    assert ev.optimum() > 91.0
    nb101 = NASBench101.load(shared_root)
    ev101 = make_evaluator("nb101", nb101)
    space = make_space("nb101", bench=nb101)
    accs = [ev101(c).val_acc for c in space.cells[:50]]
    assert ev101.queries <= 50 and 80.0 < max(accs) <= ev101.optimum() < 100.0


def _tiny_data(n=64, seed=0):
    import torch

    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 12, 12, generator=gen)
    y = torch.randint(0, 10, (n,), generator=gen)
    return x, y, x[:32], y[:32]


def test_cell_network_builds_any_cell_and_counts_macs():
    import torch

    rng = np.random.default_rng(0)
    for space in (NB101Space(), NB101Space(max_nodes=30), NB201Space()):
        cell = space.sample(rng)
        try:
            cell.prune()
        except InvalidArchitectureError:
            continue
        net = CellNetwork(cell, channels=8)
        assert net(torch.randn(2, 1, 12, 12)).shape == (2, 10)
    with pytest.raises(InvalidArchitectureError, match="unknown op"):
        CellNetwork(Cell.from_edges(3, [(0, 1), (1, 2)], ["input", "conv9x9", "output"]))
    with pytest.raises(InvalidArchitectureError, match="cycle"):
        CellNetwork(Cell.from_edges(4, [(0, 2), (2, 1), (1, 3)],
                                    ["input", "maxpool3x3", "maxpool3x3", "output"]))


def test_training_evaluator_trains_a_30_node_cell_for_one_step():
    cell = make_space("cell:30").sample(np.random.default_rng(1))
    assert cell.num_nodes == 30
    ev = TrainingEvaluator(data=_tiny_data(), max_steps=1, batch_size=16, channels=8)
    result = ev(cell)
    assert isinstance(result, Evaluation) and result.extra["steps"] == 1
    assert 0.0 <= result.val_acc <= 100.0 and result.cost_s > 0
    assert result.params > 0 and result.macs > 0
    assert result.macs == pytest.approx(result.flops / 2)
    assert ev.queries == 1
    ev(Cell(cell.adjacency, cell.ops, arch="x"))  # same network: cached, not retrained
    assert ev.queries == 1


def test_training_is_deterministic_and_learns():
    import torch

    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (256,), generator=gen)
    x = torch.randn(256, 1, 8, 8, generator=gen) * 0.1
    x[torch.arange(256), 0, y % 8, y // 2] += 3.0  # a learnable class signal
    data = (x[:192], y[:192], x[192:], y[192:])
    cell = Cell.from_edges(4, [(0, 1), (1, 2), (2, 3), (0, 3)],
                           ["input", "conv3x3-bn-relu", "conv1x1-bn-relu", "output"])
    a = TrainingEvaluator(data=data, epochs=15, batch_size=32, channels=8, lr=0.1)(cell)
    b = TrainingEvaluator(data=data, epochs=15, batch_size=32, channels=8, lr=0.1)(cell)
    assert a.val_acc == b.val_acc and a.extra["final_loss"] == b.extra["final_loss"]
    assert a.val_acc > 50.0  # chance is 10 %


@pytest.mark.data
def test_training_evaluator_on_fashion_mnist_30_node_cell(shared_root):
    cell = make_space("cell:30").sample(np.random.default_rng(2))
    ev = TrainingEvaluator(root=shared_root, train_size=64, val_size=64, batch_size=32,
                           max_steps=1)
    result = ev(cell)
    x = ev.data()[0]
    assert x.shape == (64, 1, 28, 28) and abs(float(x.mean())) < 0.5
    assert result.extra["steps"] == 1 and result.extra["num_nodes"] == 30
    assert 0.0 <= result.val_acc <= 100.0


def test_training_config_is_validated():
    with pytest.raises(InvalidConfigError, match="train_size"):
        TrainingEvaluator(train_size=0)
    with pytest.raises(InvalidConfigError, match="lr"):
        TrainingEvaluator(lr=-1.0)

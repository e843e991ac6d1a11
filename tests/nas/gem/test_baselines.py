import numpy as np
import pytest

from carbide.exceptions import CarbideError, InvalidConfigError
from carbide.nas.cell import Cell
from carbide.nas.gem.baselines import (
    GCNConfig,
    GCNPredictor,
    input_output_paths,
    path_encoding,
)
from carbide.nas.spaces import NB201Space


def _diamond():
    # input -> a -> output, input -> b -> a, input -> output
    adj = np.zeros((4, 4), np.uint8)
    adj[0, 1] = adj[0, 2] = adj[1, 2] = adj[2, 3] = adj[0, 3] = 1
    return Cell(adj, ("input", "conv", "pool", "output"))


def test_paths_of_a_small_dag():
    paths = sorted(input_output_paths(_diamond()))
    assert paths == [(), ("conv", "pool"), ("pool",)]


def test_path_encoding_sets_one_feature_per_path():
    ops = ("conv", "pool")
    x = path_encoding([_diamond()], ops, max_length=2)
    assert x.shape == (1, 1 + 2 + 4)
    # () -> 0; ("pool",) -> 1 + 1; ("conv", "pool") -> 3 + 0 * 2 + 1
    assert np.flatnonzero(x[0]).tolist() == [0, 2, 4]


def test_path_encoding_width_matches_bananas_on_nb101_ops():
    cell = Cell(np.triu(np.ones((3, 3), np.uint8), 1), ("input", "a", "output"))
    x = path_encoding([cell], ("a", "b", "c"), max_length=5)
    assert x.shape[1] == 364  # BANANAS' NAS-Bench-101 path-encoding length


def test_nb201_cells_that_differ_only_in_one_path_encode_differently():
    a, b = NB201Space.to_cell("333333"), NB201Space.to_cell("333332")
    ops = NB201Space.ops
    xa, xb = path_encoding([a, b], ops, max_length=3)
    # 4 paths, two of them read (3x3, 3x3): an indicator per distinct sequence
    assert xa.sum() == 3 and (xa != xb).any()


def test_path_encoding_rejects_unknown_ops_and_short_max_length():
    with pytest.raises(InvalidConfigError, match="'pool'"):
        path_encoding([_diamond()], ("conv",), max_length=2)
    with pytest.raises(InvalidConfigError, match="max_length=1"):
        path_encoding([_diamond()], ("conv", "pool"), max_length=1)


def test_gcn_predictor_learns_a_graph_property_and_refuses_before_fit():
    rng = np.random.default_rng(0)
    keys = ["".join(map(str, rng.integers(0, 5, 6))) for _ in range(120)]
    cells = [NB201Space.to_cell(k) for k in keys]
    y = np.array([k.count("3") * 2.0 + k.count("2") for k in keys])
    ops = ("input", "output", *NB201Space.ops)
    with pytest.raises(CarbideError, match="not fitted"):
        GCNPredictor(ops).predict(cells)
    pred = GCNPredictor(ops, GCNConfig(hidden=16, epochs=150), seed=0).fit(cells[:80], y[:80])
    p = pred.predict(cells[80:])
    assert p.shape == (40,)
    assert np.corrcoef(p, y[80:])[0, 1] > 0.6
    with pytest.raises(InvalidConfigError, match="finite"):
        GCNPredictor(ops).fit(cells[:3], [1.0, 2.0])


def test_gcn_config_validates():
    with pytest.raises(InvalidConfigError, match="epochs"):
        GCNConfig(epochs=0)

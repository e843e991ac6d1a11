import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError
from carbide.nas.gem.encoder import (
    EncoderConfig,
    GINEncoder,
    batch_graphs,
    embedding_similarity_quality,
    onehot_encoding,
    op_vocabulary,
    train_encoder,
)
from tests.nas.gem.test_wl import random_dags


@pytest.fixture(scope="module")
def fixture_graphs():
    graphs = random_dags(300, seed=1, max_nodes=9)
    return graphs[:220], graphs[220:], op_vocabulary(graphs)


@pytest.fixture(scope="module")
def trained(fixture_graphs):
    train, _, ops = fixture_graphs
    return train_encoder(train, ops, EncoderConfig(steps=250), seed=0, show_progress=False)


def permuted(graph, seed):
    adj, labels = graph
    n = len(labels)
    perm = np.concatenate([[0], 1 + np.random.default_rng(seed).permutation(n - 2), [n - 1]])
    return adj[np.ix_(perm, perm)], [labels[p] for p in perm]


def test_encoder_beats_onehot_on_heldout_pairs(fixture_graphs, trained):
    _, held_out, ops = fixture_graphs
    ours = embedding_similarity_quality(trained.embed(held_out), held_out)
    base = embedding_similarity_quality(onehot_encoding(held_out, ops, 9), held_out)
    assert ours["pairs"] == base["pairs"] == 80 * 79 // 2
    assert ours["spearman"] > base["spearman"] + 0.2
    assert ours["kendall"] > base["kendall"] + 0.1
    assert trained.history[-1] < trained.history[0] / 5


def test_isomorphic_cells_share_an_embedding(fixture_graphs, trained):
    _, held_out, _ = fixture_graphs
    for i, g in enumerate(held_out[:10]):
        e = trained.embed([g, permuted(g, i)])
        np.testing.assert_allclose(e[0], e[1], atol=1e-5)
    # padding does not change an embedding either: alone or beside a larger graph
    small = min(held_out, key=lambda g: len(g[1]))
    big = max(held_out, key=lambda g: len(g[1]))
    np.testing.assert_allclose(trained.embed([small]), trained.embed([small, big])[:1], atol=1e-5)


def test_training_is_seeded(fixture_graphs):
    train, held_out, ops = fixture_graphs
    cfg = EncoderConfig(steps=20)
    a = train_encoder(train, ops, cfg, seed=3, show_progress=False).embed(held_out[:5])
    b = train_encoder(train, ops, cfg, seed=3, show_progress=False).embed(held_out[:5])
    c = train_encoder(train, ops, cfg, seed=4, show_progress=False).embed(held_out[:5])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_state_dict_round_trip(fixture_graphs, trained):
    _, held_out, _ = fixture_graphs
    again = GINEncoder.from_state_dict(trained.state_dict())
    np.testing.assert_array_equal(again.embed(held_out[:7]), trained.embed(held_out[:7]))


def test_onehot_layout():
    adj = np.array([[0, 1, 1], [0, 0, 1], [0, 0, 0]], np.uint8)
    enc = onehot_encoding([(adj, ["input", "a", "output"])], ["a", "input", "output"], 4)
    # 4*3/2 = 6 adjacency bits, then 4 nodes x 3 ops
    assert enc.shape == (1, 6 + 12)
    np.testing.assert_array_equal(enc[0, :6], [1, 1, 0, 1, 0, 0])
    np.testing.assert_array_equal(enc[0, 6:].reshape(4, 3), [[0, 1, 0], [1, 0, 0], [0, 0, 1],
                                                             [0, 0, 0]])


def test_bad_input(fixture_graphs):
    train, _, ops = fixture_graphs
    with pytest.raises(InvalidConfigError, match="vocabulary"):
        batch_graphs([(np.zeros((2, 2), np.uint8), ["input", "warp"])], ops)
    with pytest.raises(InvalidConfigError, match="pooling"):
        EncoderConfig(pooling="max")
    with pytest.raises(InvalidConfigError, match="at least 2"):
        train_encoder(train[:1], ops)
    with pytest.raises(InvalidConfigError, match="kernel"):
        embedding_similarity_quality(np.zeros((4, 2)), kernel=np.zeros((3, 3)))


def test_isomorphic_nas_cells_share_hash_and_embedding():
    from carbide.nas.cell import Cell
    from carbide.nas.spaces import make_space

    space = make_space("cell:30")
    rng = np.random.default_rng(0)
    cells = [space.sample(rng) for _ in range(40)]
    ops = ("input", "output", *space.ops)
    enc = train_encoder(cells, ops, EncoderConfig(steps=20), seed=0, show_progress=False)
    for i, cell in enumerate(cells[:5]):
        n = cell.num_nodes
        # the same DAG in canonical node order, and with its interior nodes shuffled
        other = cell.canonical()
        assert other.hash() == cell.hash()
        adj, labels = permuted((cell.adjacency, cell.ops), i)
        twin = Cell(adj, tuple(labels))
        assert twin.hash() == cell.hash() and n >= 3
        e = enc.embed([cell, other, twin])
        np.testing.assert_allclose(e[1], e[0], atol=1e-5)
        np.testing.assert_allclose(e[2], e[0], atol=1e-5)

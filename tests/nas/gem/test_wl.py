import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError
from carbide.nas.gem.wl import wl_features, wl_kernel, wl_labels

OPS = ("conv3x3", "conv1x1", "maxpool3x3")


def random_dags(n_graphs, seed, max_nodes=9):
    rng = np.random.default_rng(seed)
    graphs = []
    for _ in range(n_graphs):
        n = int(rng.integers(2, max_nodes + 1))
        adj = np.triu(rng.random((n, n)) < 0.4, k=1).astype(np.uint8)
        labels = ["input", *rng.choice(OPS, size=n - 2).tolist(), "output"]
        graphs.append((adj, labels))
    return graphs


def grakel_kernel(graphs, h, normalize, transform):
    grakel = pytest.importorskip("grakel")
    data = [[transform(adj).astype(int), {i: lab for i, lab in enumerate(labels)}]
            for adj, labels in graphs]
    wl = grakel.WeisfeilerLehman(n_iter=h, base_graph_kernel=grakel.VertexHistogram,
                                 normalize=normalize)
    return wl.fit_transform(data)


# grakel's WL refines by the nodes each node points to in the adjacency matrix it is given,
# so our "out" is grakel on A, "in" is grakel on A.T, "undirected" grakel on A | A.T.
TRANSFORMS = {"out": lambda a: a, "in": lambda a: a.T, "undirected": lambda a: a | a.T}


@pytest.mark.parametrize("direction", sorted(TRANSFORMS))
@pytest.mark.parametrize("h", [1, 2, 4])
@pytest.mark.parametrize("normalize", [False, True])
def test_equals_grakel(direction, h, normalize):
    graphs = random_dags(25, seed=h + 10 * normalize)
    ours = wl_kernel(graphs, h=h, normalize=normalize, direction=direction)
    theirs = grakel_kernel(graphs, h, normalize, TRANSFORMS[direction])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_cross_kernel_is_block_of_gram():
    graphs = random_dags(12, seed=3)
    full = wl_kernel(graphs, h=2)
    cross = wl_kernel(graphs[:5], graphs[5:], h=2)
    np.testing.assert_allclose(cross, full[:5, 5:])
    np.testing.assert_allclose(np.diag(full), 1.0)


def test_direction_matters_and_isomorphism_invariance():
    # a chain in -> a -> b -> out against in -> b -> a -> out: same labels, different order
    adj = np.triu(np.ones((4, 4), np.uint8), 1) * np.eye(4, k=1, dtype=np.uint8)
    g1 = (adj, ["input", "conv3x3", "conv1x1", "output"])
    g2 = (adj, ["input", "conv1x1", "conv3x3", "output"])
    assert wl_kernel([g1], [g2], h=2)[0, 0] < 1.0
    # permuting the middle nodes of a DAG (relabelling) keeps the kernel at 1
    rng = np.random.default_rng(0)
    (a, labels), = random_dags(1, seed=5, max_nodes=8)
    n = len(labels)
    perm = np.concatenate([[0], 1 + rng.permutation(n - 2), [n - 1]])
    b = a[np.ix_(perm, perm)]
    assert wl_kernel([(a, labels)], [(b, [labels[p] for p in perm])], h=3)[0, 0] == 1.0


def test_features_count_nodes_per_iteration():
    graphs = random_dags(4, seed=1)
    x = wl_features(graphs, h=2)
    sizes = [len(lab) for _, lab in graphs]
    np.testing.assert_array_equal(np.asarray(x.sum(axis=1)).ravel(), [3 * s for s in sizes])
    labels = wl_labels(graphs, h=2)
    assert [len(per) for per in labels] == [3] * 4


def test_bad_input():
    with pytest.raises(InvalidConfigError, match="h"):
        wl_kernel(random_dags(2, 0), h=-1)
    with pytest.raises(InvalidConfigError, match="direction"):
        wl_kernel(random_dags(2, 0), direction="up")
    with pytest.raises(InvalidConfigError, match="labels"):
        wl_kernel([(np.zeros((3, 3)), ["a", "b"])])


def test_missing_scipy_names_the_extra(monkeypatch):
    from carbide.exceptions import MissingDependencyError
    from tests.conftest import mask_module

    mask_module(monkeypatch, "scipy")
    with pytest.raises(MissingDependencyError, match=r"carbide\[nas\]"):
        wl_kernel(random_dags(3, 0))

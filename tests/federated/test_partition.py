"""Tests of carbide.federated.partition on tiny deterministic label sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from carbide.datasets import FederatedDataset
from carbide.exceptions import InvalidConfigError
from carbide.federated.partition import (
    PartitionSpec,
    class_counts,
    classes_per_client,
    heterogeneity,
    parse_partition,
    partition_dirichlet,
    partition_federated,
    partition_hi,
    partition_iid,
)

C = 10
PER_CLASS = 40


@pytest.fixture
def labels() -> np.ndarray:
    """10 classes x 40 samples, interleaved (label of sample i is i mod 10)."""
    return np.arange(C * PER_CLASS) % C


def _assert_exact_cover(parts, n):
    assert all(p.dtype == np.int64 and p.size > 0 for p in parts)
    allidx = np.concatenate(parts)
    assert allidx.size == n
    assert np.array_equal(np.sort(allidx), np.arange(n))


# ------------------------------------------------------------------ iid


def test_iid_equal_sizes_and_cover(labels):
    parts = partition_iid(labels, 7, seed=3)
    _assert_exact_cover(parts, labels.size)
    sizes = [p.size for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_iid_accepts_torch_and_is_deterministic(labels):
    a = partition_iid(torch.from_numpy(labels), 5, seed=1)
    b = partition_iid(labels, 5, seed=1)
    c = partition_iid(labels, 5, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


# ------------------------------------------------------------------ HI


def test_classes_per_client():
    assert classes_per_client(0.0, 10) == 10
    assert classes_per_client(1.0, 10) == 1
    assert classes_per_client(1 / 3, 10) == 7
    assert classes_per_client(0.5, 10) == 6  # 5.5 rounds up
    assert classes_per_client(0.7, 1) == 1


def test_hi0_is_iid(labels):
    parts = partition_hi(labels, 8, 0.0, seed=0)
    _assert_exact_cover(parts, labels.size)
    counts = class_counts(labels, parts, C)
    assert (counts > 0).all()  # every client holds every class
    assert (counts.max(axis=0) - counts.min(axis=0) <= 1).all()
    sizes = counts.sum(axis=1)
    assert sizes.max() - sizes.min() <= 1


def test_hi0_uneven_counts_stay_balanced(labels):
    parts = partition_hi(labels, 7, 0.0, seed=5)  # 40 per class over 7 clients: 5 or 6
    counts = class_counts(labels, parts, C)
    assert (counts > 0).all()
    assert (counts.max(axis=0) - counts.min(axis=0) <= 1).all()
    sizes = counts.sum(axis=1)
    assert sizes.max() - sizes.min() <= 1


def test_hi1_one_class_per_client(labels):
    parts = partition_hi(labels, 10, 1.0, seed=0)
    _assert_exact_cover(parts, labels.size)
    counts = class_counts(labels, parts, C)
    assert ((counts > 0).sum(axis=1) == 1).all()
    assert ((counts > 0).sum(axis=0) == 1).all()  # each class at exactly one client


@pytest.mark.parametrize(("hi", "num_clients"), [(1 / 3, 10), (2 / 3, 15), (0.5, 12)])
def test_intermediate_hi_classes_and_coverage(labels, hi, num_clients):
    c = classes_per_client(hi, C)
    parts = partition_hi(labels, num_clients, hi, seed=4)
    _assert_exact_cover(parts, labels.size)
    counts = class_counts(labels, parts, C)
    assert ((counts > 0).sum(axis=1) == c).all()
    holders = (counts > 0).sum(axis=0)
    assert holders.max() - holders.min() <= 1
    assert holders.sum() == num_clients * c


@pytest.mark.parametrize("split", [
    lambda labels, seed: partition_hi(labels, 10, 0.5, seed=seed),
    lambda labels, seed: partition_dirichlet(labels, 5, 0.3, seed=seed),
], ids=["hi", "dirichlet"])
def test_deterministic_and_seed_dependent(labels, split):
    a, b, c = split(labels, 11), split(labels, 11), split(labels, 12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_hi_too_few_clients_raises(labels):
    with pytest.raises(InvalidConfigError, match="unassigned"):
        partition_hi(labels, 5, 1.0)


def test_hi_class_smaller_than_holders_raises():
    y = np.array([0] * 10 + [1] * 2)
    with pytest.raises(InvalidConfigError, match="class 1 has 2 samples"):
        partition_hi(y, 4, 0.0)


# ------------------------------------------------------------------ Dirichlet


def test_dirichlet_covers_and_sums(labels):
    parts = partition_dirichlet(labels, 6, 0.5, seed=0)
    _assert_exact_cover(parts, labels.size)
    assert class_counts(labels, parts, C).sum() == labels.size


def test_dirichlet_alpha_extremes(labels):
    near_iid = heterogeneity(class_counts(labels, partition_dirichlet(labels, 5, 1e6), C))
    skewed = heterogeneity(class_counts(labels, partition_dirichlet(labels, 5, 0.01), C))
    assert near_iid["hi_measured"] < 0.05
    assert near_iid["classes_per_client_mean"] == C
    assert skewed["hi_measured"] > 0.6
    assert skewed["classes_per_client_mean"] < 4


def test_dirichlet_min_size_unreachable_raises(labels):
    with pytest.raises(InvalidConfigError, match="larger alpha or fewer clients"):
        partition_dirichlet(labels, 40, 0.001, min_size=10)


# ------------------------------------------------------------------ heterogeneity


@pytest.mark.parametrize(("hi", "num_clients", "tol"),
                         [(0.0, 10, 1e-9), (5 / 9, 10, 1e-9), (2 / 3, 10, 1e-9),
                          (8 / 9, 20, 1e-9), (1.0, 20, 1e-9),
                          # 40 samples over 7 or 6 holders: pieces differ by one sample
                          (1 / 3, 10, 0.01), (2 / 3, 15, 0.01)])
def test_hi_measures_back(labels, hi, num_clients, tol):
    stats = heterogeneity(class_counts(labels, partition_hi(labels, num_clients, hi), C))
    assert stats["hi_measured"] == pytest.approx(hi, abs=tol)
    assert stats["classes_per_client_mean"] == classes_per_client(hi, C)


def test_hi_measures_back_to_rounding(labels):
    stats = heterogeneity(class_counts(labels, partition_hi(labels, 10, 0.5), C))
    assert stats["hi_measured"] == pytest.approx(0.5, abs=0.5 / (C - 1) + 1e-9)


def test_heterogeneity_iid_and_one_class(labels):
    iid = heterogeneity(class_counts(labels, partition_iid(labels, 4), C))
    assert iid["hi_measured"] < 0.05
    assert 0.0 <= iid["tv_to_global"] < 0.2
    one = heterogeneity(class_counts(labels, partition_hi(labels, 10, 1.0), C))
    assert one["hi_measured"] == pytest.approx(1.0)
    assert one["tv_to_global"] == pytest.approx(0.9)
    assert one["samples_per_client_mean"] == PER_CLASS
    assert one["samples_per_client_std"] == 0.0
    assert all(type(v) is float for v in one.values())


def test_heterogeneity_exact_iid_counts():
    stats = heterogeneity(np.full((3, 4), 5))
    assert stats == {
        "hi_measured": 0.0,
        "tv_to_global": 0.0,
        "classes_per_client_mean": 4.0,
        "samples_per_client_mean": 20.0,
        "samples_per_client_std": 0.0,
    }


def test_heterogeneity_ignores_absent_classes_and_rejects_empty():
    assert heterogeneity(np.array([[3, 0, 3], [3, 0, 3]]))["hi_measured"] == 0.0
    with pytest.raises(InvalidConfigError, match="no samples"):
        heterogeneity(np.zeros((2, 3)))


# ------------------------------------------------------------------ specs


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("writers", "writers"), ("iid", "iid"), ("dirichlet:0.5", "dirichlet:0.5"),
     ("HI:0.50", "hi:0.5"), ("hi:1", "hi:1"), (" hi : 0 ", "hi:0"),
     ("dirichlet:100", "dirichlet:100"), ("dirichlet:1e-3", "dirichlet:0.001")],
)
def test_parse_partition_round_trip(text, canonical):
    spec = parse_partition(text)
    assert str(spec) == canonical
    assert parse_partition(str(spec)) == spec


@pytest.mark.parametrize("text", ["hi:1.5", "hi:-0.1", "dirichlet:0", "dirichlet:-1",
                                  "dirichlet:inf", "hi", "hi:abc", "iid:3", "shards:2", ""])
def test_parse_partition_errors(text):
    with pytest.raises(InvalidConfigError) as err:
        parse_partition(text)
    assert repr(text) in str(err.value)
    assert "dirichlet:A" in str(err.value)


def test_spec_split_dispatch(labels):
    assert len(parse_partition("iid").split(labels, 4, seed=0)) == 4
    assert len(parse_partition("dirichlet:1").split(labels, 4, seed=0)) == 4
    parts = parse_partition("hi:1").split(labels, 10, seed=0)
    assert ((class_counts(labels, parts, C) > 0).sum(axis=1) == 1).all()
    with pytest.raises(InvalidConfigError, match="partition_federated"):
        PartitionSpec("writers").split(labels, 4)
    with pytest.raises(InvalidConfigError, match="1.5"):
        PartitionSpec("hi", 1.5)


# ------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda y: partition_hi(y, 10, 1.5), "1.5"),
        (lambda y: partition_dirichlet(y, 10, 0), "got 0"),
        (lambda y: partition_iid(y, 0), "got 0"),
        (lambda y: partition_hi(y, 0, 0.5), "got 0"),
        (lambda y: partition_iid(y, 401), "401"),
        (lambda y: partition_hi(y, 401, 0.0), "401"),
        (lambda y: partition_dirichlet(y, 401, 1.0), "401"),
        (lambda y: partition_iid(y, 3, seed=-1), "-1"),
        (lambda y: partition_iid(y.reshape(20, 20), 3), "1-D"),
        (lambda y: class_counts(y, [np.arange(3)], num_classes=5), "num_classes=5"),
    ],
)
def test_bad_inputs_raise(labels, call, needle):
    with pytest.raises(InvalidConfigError, match=needle):
        call(labels)


# ------------------------------------------------------------------ natural partition


def _tiny_federated() -> FederatedDataset:
    def split(n):
        return torch.zeros(n, 1, 2, 2), torch.arange(n, dtype=torch.int64) % 3

    sizes = {"w0": 4, "w1": 0, "w2": 2, "w3": 5, "w4": 1}
    return FederatedDataset(
        train={w: split(n) for w, n in sizes.items()},
        test={w: split(1) for w in sizes},
        num_classes=3,
    )


def test_partition_federated():
    data = _tiny_federated()
    assert partition_federated(data) == ["w0", "w2", "w3", "w4"]  # w1 has no training data
    chosen = partition_federated(data, 2, seed=1)
    assert len(chosen) == 2 and set(chosen) <= {"w0", "w2", "w3", "w4"}
    assert chosen == sorted(chosen, key=data.clients.index)
    assert partition_federated(data, 2, seed=1) == chosen
    assert {tuple(partition_federated(data, 2, seed=s)) for s in range(10)} != {tuple(chosen)}
    with pytest.raises(InvalidConfigError, match="num_clients=5"):
        partition_federated(data, 5)
    with pytest.raises(InvalidConfigError, match="got 0"):
        partition_federated(data, 0)
    counts = np.stack([np.bincount(data.train[w][1].numpy(), minlength=3)
                       for w in partition_federated(data)])
    stats = heterogeneity(counts)
    assert 0.0 <= stats["hi_measured"] <= 1.0 and 0.0 <= stats["tv_to_global"] <= 1.0

"""NAS-Bench-201 / NAS-Bench-101 query objects: synthetic tables and the shared copies."""

from __future__ import annotations

import collections
import itertools
import json
import pickle

import numpy as np
import pytest

from carbide.datasets.nasbench import (
    NB101_OPS,
    NB201_EDGES,
    NB201_OPS,
    NASBench101,
    NASBench201,
    nb201_arch_str_to_key,
    nb201_key_to_arch_str,
)
from carbide.exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from carbide.testing import write_nasbench101_fixture, write_nasbench201_fixture
from tests.conftest import require_dataset

# ----------------------------------------------------------------------------- NAS-Bench-201


@pytest.fixture
def nb201(tmp_path):
    write_nasbench201_fixture(tmp_path, num_cells=40)
    return NASBench201.load(tmp_path, verify=False)


def test_nb201_fixture_queries(nb201):
    assert len(nb201) == 40
    keys = list(nb201)
    assert keys[:3] == ["000000", "000001", "000002"] and keys == sorted(keys)
    first = nb201.query("000000")
    assert first["val_acc"] == pytest.approx(1.0)  # mean of [0, 1, 2]
    assert first["val_acc_per_seed"] == [0.0, 1.0, 2.0] and first["num_seeds"] == 3
    assert first["train_time"] == pytest.approx(100.0)
    assert first["arch_str"] == "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    second = nb201.query("000001")  # odd cells have 2 seeds: [1, 3]
    assert second["num_seeds"] == 2 and second["val_acc"] == pytest.approx(2.0)
    assert second["latency"] == pytest.approx(0.02) and second["model_size"] == pytest.approx(0.2)


def test_nb201_arch_forms_agree(nb201):
    key = "000104"  # cell number 29 (base-5 digits)
    by_key = nb201.query(key)
    assert by_key["val_acc"] == pytest.approx(30.0)  # odd: [29, 31]
    assert nb201.query([0, 0, 0, 1, 0, 4]) == by_key
    assert nb201.query(np.array([0, 0, 0, 1, 0, 4])) == by_key
    names = ["none", "none", "none", "skip_connect", "none", "avg_pool_3x3"]
    assert nb201.query(names) == by_key
    assert nb201.query(nb201_key_to_arch_str(key)) == by_key
    assert key in nb201 and names in nb201 and "444444" not in nb201 and "bad" not in nb201


def test_nb201_best(nb201):
    assert nb201.best()["arch"] == "000124"  # cell 39: 2 seeds [39, 41], mean 40 beats cell 38
    assert nb201.best("latency")["arch"] == "000000"
    assert nb201.best("val_acc", mode="min")["arch"] == "000000"
    with pytest.raises(InvalidConfigError, match="'flops'.*val_acc"):
        nb201.best("flops")


def test_nb201_bad_arch(nb201):
    with pytest.raises(InvalidConfigError, match="5.*avg_pool_3x3"):
        nb201.query([0, 1, 2, 3, 4, 5])
    with pytest.raises(InvalidConfigError, match="'conv_3x3'.*nor_conv_3x3"):
        nb201.query(["none", "none", "none", "none", "none", "conv_3x3"])
    with pytest.raises(InvalidConfigError, match="'12345'"):
        nb201.query("12345")
    with pytest.raises(InvalidConfigError, match="'7'"):
        nb201.query("000007")
    with pytest.raises(KeyError, match="444444"):
        nb201.query("444444")


def test_nb201_arch_string_conversion():
    assert NB201_EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert nb201_key_to_arch_str("130202") == (
        "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_1x1~2|"
    )
    for digits in itertools.product("01234", repeat=6):
        key = "".join(digits)
        assert nb201_arch_str_to_key(nb201_key_to_arch_str(key)) == key
    for bad in ("|none~0|+|none~0|none~1|", "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
                "|none~0|+|none~0|+|none~0|none~1|none~2|",
                "|zero~0|+|none~0|none~1|+|none~0|none~1|none~2|"):
        with pytest.raises(InvalidConfigError):
            nb201_arch_str_to_key(bad)


def test_nb201_fixture_fails_checksum(tmp_path):
    write_nasbench201_fixture(tmp_path)
    with pytest.raises(DatasetCorruptError, match="checksum"):
        NASBench201.load(tmp_path)


def test_nb201_missing(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nasbench201/cifar10.pkl"):
        NASBench201.load(tmp_path, verify=False)
    with pytest.raises(DatasetNotFoundError, match="nothing.pkl"):
        NASBench201.from_file(tmp_path / "nothing.pkl")


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"not a pickle at all", "cannot unpickle"),
        (pickle.dumps([1, 2, 3]), "holds list"),
        (pickle.dumps({}), "empty"),
        (pickle.dumps({"00000": {}}), "bad architecture key '00000'"),
        (pickle.dumps({"000000": {"val_acc": [1.0]}}), "entry '000000' has"),
        (
            pickle.dumps({"000000": {"val_acc": [], "train_time": [1.0], "latency": [1.0],
                                     "model_size": [1.0]}}),
            "'val_acc' is \\[\\]",
        ),
        (pickle.dumps(collections.OrderedDict(a=1)), "refusing to load global"),
    ],
)
def test_nb201_wrong_format(tmp_path, payload, message):
    path = tmp_path / "t.pkl"
    path.write_bytes(payload)
    with pytest.raises(DatasetCorruptError, match=message) as info:
        NASBench201.from_file(path)
    assert str(path) in str(info.value)


@pytest.mark.data
def test_real_nb201(shared_root):
    require_dataset(shared_root, "nasbench201/cifar10.pkl")
    bench = NASBench201.load(shared_root)
    assert len(bench) == 15_625
    assert set(bench) == {"".join(d) for d in itertools.product("01234", repeat=6)}
    best = bench.best()
    assert best["arch"] == "333132"
    assert best["val_acc"] == pytest.approx(91.60667, abs=1e-4)
    assert best["model_size"] == pytest.approx(1.073466)
    cell = bench.query("|skip_connect~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|none~1|"
                       "nor_conv_1x1~2|")
    assert cell["arch"] == "130202" and cell["val_acc"] == pytest.approx(89.60533, abs=1e-4)
    seeds = collections.Counter(bench.query(k)["num_seeds"] for k in bench)
    assert seeds == {3: 8_169, 2: 7_456}
    assert bench.query("000000")["val_acc"] == pytest.approx(9.712, abs=1e-3)


@pytest.mark.data
def test_real_nb201_edge_order(shared_root):
    """Under NB201_EDGES, exactly the cells whose output cannot be reached sit at chance."""
    require_dataset(shared_root, "nasbench201/cifar10.pkl")
    bench = NASBench201.load(shared_root)
    for key in bench:
        reached = {0}
        for node in (1, 2, 3):
            if any(dst == node and key[i] != "0" and src in reached
                   for i, (dst, src) in enumerate(NB201_EDGES)):
                reached.add(node)
        assert (3 in reached) == (bench.query(key)["val_acc"] > 15.0), key
    assert NB201_OPS[0] == "none"


# ----------------------------------------------------------------------------- NAS-Bench-101


@pytest.fixture
def nb101(tmp_path):
    write_nasbench101_fixture(tmp_path, num_cells=5)
    return NASBench101.load(tmp_path, verify=False)


def test_nb101_fixture_iteration_and_query(nb101):
    assert len(nb101) == 5
    cells = list(nb101)
    for i, (adj, ops, metrics) in enumerate(cells):
        assert adj.dtype == np.int8 and adj.shape == (7, 7)
        assert not np.tril(adj).any()
        assert ops[0] == "input" and ops[-1] == "output" and set(ops) <= set(NB101_OPS)
        assert metrics["val_acc"] == 90.0 + i and metrics["params"] == i + 1
        assert nb101.query(adj, ops) == metrics
        assert nb101.query(adj.tolist(), [NB101_OPS.index(o) for o in ops]) == metrics
        key = str(tuple(int(v) for v in (*adj.reshape(-1), *[NB101_OPS.index(o) for o in ops])))
        assert nb101.query(key) == metrics
        assert key in nb101
    adj, ops, metrics = cells[0]
    returned = nb101.query(adj, ops)
    returned["val_acc"] = -1.0  # a copy: the table is not changed
    assert nb101.query(adj, ops)["val_acc"] == 90.0
    assert nb101.best()["val_acc"] == 94.0
    assert nb101.best("flops")["flops"] == 10.0


def test_nb101_bad_queries(nb101):
    adj, ops, _ = next(iter(nb101))
    with pytest.raises(InvalidConfigError, match="'conv5x5'.*conv3x3-bn-relu"):
        nb101.query(adj, [*ops[:-2], "conv5x5", "output"])
    with pytest.raises(InvalidConfigError, match="shape \\(6, 6\\)"):
        nb101.query(adj[:6, :6], ops)
    with pytest.raises(InvalidConfigError, match="upper triangular"):
        nb101.query(adj.T, ops)
    with pytest.raises(InvalidConfigError, match="input \\(0\\) first"):
        nb101.query(adj, list(reversed(ops)))
    other = adj.copy()
    other[1, 6] = 1 - other[1, 6]
    with pytest.raises(KeyError, match="not in"):
        nb101.query(other, ops)


def _nb101_file(tmp_path, table):
    path = tmp_path / "zc.json"
    path.write_text(json.dumps({"nasbench101": {"cifar10": table}}))
    return path


_GOOD_KEY = str(tuple([0, 1] + [0] * 5 + [0] * 6 + [1] + [0] * 35 + [0, 2, 2, 2, 2, 2, 1]))


def test_nb101_good_key_is_good(tmp_path):
    bench = NASBench101.from_file(_nb101_file(tmp_path, {_GOOD_KEY: {"val_accuracy": 80}}))
    assert len(bench) == 1 and bench.query(_GOOD_KEY) == {"val_acc": 80.0}


@pytest.mark.parametrize(
    "key, metrics, message",
    [
        ("__import__('os').getcwd()", {"val_accuracy": 1}, "bad NAS-Bench-101 key"),
        ("(0, 1, x)", {"val_accuracy": 1}, "bad NAS-Bench-101 key"),
        ("(0, 1, 1)", {"val_accuracy": 1}, "3 integers"),
        (_GOOD_KEY.replace("0, 2, 2", "2, 2, 2"), {"val_accuracy": 1}, "input \\(0\\) first"),
        (_GOOD_KEY, {"flops": 1.0}, "at least 'val_accuracy'"),
        (_GOOD_KEY, {"val_accuracy": "high"}, "dict of numbers"),
    ],
)
def test_nb101_wrong_format(tmp_path, key, metrics, message):
    path = _nb101_file(tmp_path, {key: metrics})
    with pytest.raises(DatasetCorruptError, match=message) as info:
        NASBench101.from_file(path)
    assert str(path) in str(info.value)


def test_nb101_wrong_file(tmp_path):
    path = tmp_path / "zc.json"
    path.write_text("{not json")
    with pytest.raises(DatasetCorruptError, match="cannot parse") as info:
        NASBench101.from_file(path)
    assert info.value.__cause__ is not None
    path.write_text(json.dumps({"nasbench201": {}}))
    with pytest.raises(DatasetCorruptError, match="no \\['nasbench101'\\]"):
        NASBench101.from_file(path)
    with pytest.raises(DatasetNotFoundError, match="absent.json"):
        NASBench101.from_file(tmp_path / "absent.json")


def test_nb101_fixture_fails_checksum_and_missing(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="zc_nasbench101.json"):
        NASBench101.load(tmp_path, verify=False)
    write_nasbench101_fixture(tmp_path)
    with pytest.raises(DatasetCorruptError, match="checksum"):
        NASBench101.load(tmp_path)


@pytest.mark.data
def test_real_nb101(shared_root):
    require_dataset(shared_root, "nasbench101/zc_nasbench101.json")
    bench = NASBench101.load(shared_root)
    assert len(bench) == 500
    adj, ops, metrics = next(iter(bench))
    assert adj[0].tolist() == [0, 1, 1, 1, 1, 0, 1]
    assert ops == ["input", "maxpool3x3", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu",
                   "conv3x3-bn-relu", "output"]
    assert metrics["val_acc"] == pytest.approx(92.578125)
    assert metrics["flops"] == pytest.approx(624.55808)
    assert metrics["params"] == pytest.approx(4.095778)
    assert set(metrics) == {"val_acc", "flops", "params", "epe_nas", "fisher", "grad_norm",
                            "grasp", "jacov", "l2_norm", "plain", "snip", "synflow"}
    accs = [m["val_acc"] for _, _, m in bench]
    assert min(accs) > 70.0 and max(accs) == pytest.approx(94.71153616905212)
    assert all(o[0] == "input" and o[-1] == "output" for _, o, _ in bench)

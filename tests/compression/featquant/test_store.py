"""QuantizedFeatureStore against torch_geometric's FeatureStore contract."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import FeatureStore, TensorAttr

from carbide.compression.featquant import DenseFeatures, QuantizedFeatureStore, quantize
from carbide.exceptions import InvalidConfigError


def _x(n=60, d=12):
    return torch.randn((n, d), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("method,kw", [("sq", {"bits": 8}), ("vq", {"width": 4, "codebook": 8}),
                                       ("none", {})])
def test_put_get_size_remove(method, kw):
    store = QuantizedFeatureStore(method, **kw)
    assert isinstance(store, FeatureStore)
    x = _x()
    assert store.put_tensor(x, group_name="paper", attr_name="x", index=None)
    feats = store.features("paper", "x")
    expected = feats.gather(torch.arange(60))
    idx = torch.tensor([3, 0, 59])
    assert torch.equal(store.get_tensor(group_name="paper", attr_name="x", index=idx),
                       expected[idx])
    assert torch.equal(store["paper", "x", None], expected)
    assert torch.equal(store["paper", "x", 1:4], expected[1:4])
    assert store.get_tensor_size(group_name="paper", attr_name="x") == (60, 12)
    attrs = store.get_all_tensor_attrs()
    assert [(a.group_name, a.attr_name) for a in attrs] == [("paper", "x")]
    many = store.multi_get_tensor(
        [TensorAttr("paper", "x", idx), TensorAttr("paper", "x", idx[:1])]
    )
    assert torch.equal(many[1], expected[idx[:1]])
    if method == "none":
        assert torch.equal(expected, x)
    assert store.remove_tensor(group_name="paper", attr_name="x", index=None)
    assert not store.remove_tensor(group_name="paper", attr_name="x", index=None)
    with pytest.raises(KeyError, match="no tensor stored"):
        store.get_tensor(group_name="paper", attr_name="x", index=idx)


def test_prebuilt_features_are_stored_as_given_and_counted():
    store = QuantizedFeatureStore("sq", bits=1)
    q = quantize(_x(), "sq", bits=2)
    store.put_tensor(q, group_name=None, attr_name="x", index=None)
    d = DenseFeatures(_x(10, 3))
    store.put_tensor(d, group_name=None, attr_name="y", index=None)
    assert store.features(None, "x") is q
    assert store.nbytes == q.nbytes + d.nbytes


def test_partial_puts_and_unknown_methods_are_refused():
    store = QuantizedFeatureStore("sq", bits=4)
    with pytest.raises(InvalidConfigError, match="whole attributes only"):
        store.put_tensor(_x(), group_name=None, attr_name="x", index=torch.arange(60))
    with pytest.raises(InvalidConfigError, match="choose one of sq, vq, none"):
        QuantizedFeatureStore("int8")

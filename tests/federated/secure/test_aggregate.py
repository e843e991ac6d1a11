"""The maths: fixed point mod 2^k, zero-sum masks, tree sums, the weighted mean."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from carbide.exceptions import InvalidConfigError
from carbide.federated import FedAvg, fedavg
from carbide.federated.secure import (
    SecureAggregator,
    aggregation_tree,
    decode,
    encode,
    masked_updates,
    secure_aggregate,
    tree_sum,
)
from carbide.federated.secure._fixed import max_error
from carbide.federated.secure._masks import (
    admin_masks,
    mask_neighbors,
    pairwise_masks,
    round_tag,
    x25519_keys,
)
from carbide.federated.secure.aggregate import mask_round


def _updates(n=5, d=300, scale=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g) * scale


@pytest.mark.parametrize("bits", [32, 64])
def test_encode_decode_roundtrip_and_clip_count(bits):
    x = np.array([0.5, -0.25, 1e-6, 2.0, -3.0])
    enc, clipped = encode(x, clip=1.0, bits=bits)
    assert enc.dtype == (np.uint32 if bits == 32 else np.uint64)
    assert clipped == 2
    back = decode(enc, clip=1.0, bits=bits)
    np.testing.assert_allclose(back, [0.5, -0.25, 1e-6, 1.0, -1.0], atol=max_error(1, 1.0, bits))


@pytest.mark.parametrize("bits", [32, 64])
def test_admin_masks_sum_to_zero(bits):
    m = admin_masks(6, 257, bits, seed=b"k" * 32)
    assert (m[0] != 0).mean() > 0.99  # masks are not zero themselves
    assert (m.sum(axis=0, dtype=m.dtype) == 0).all()


@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("neighbors", [None, 2])
def test_pairwise_masks_sum_to_zero_and_are_fresh(bits, neighbors):
    keys = x25519_keys(5, seed=3)
    m0 = pairwise_masks(keys, 128, bits, round_tag(0, b"n"), neighbors)
    m1 = pairwise_masks(keys, 128, bits, round_tag(1, b"n"), neighbors)
    assert (m0.sum(axis=0, dtype=m0.dtype) == 0).all()
    assert (m1.sum(axis=0, dtype=m1.dtype) == 0).all()
    assert (m0 != m1).mean() > 0.99  # a new round tag gives new masks
    assert (m0 != 0).mean() > 0.99


def test_mask_neighbors_ring_is_symmetric():
    g = mask_neighbors(8, 4)
    assert all(len(nb) == 4 for nb in g)
    assert all(i in g[j] for i in range(8) for j in g[i])
    with pytest.raises(InvalidConfigError, match="even"):
        mask_neighbors(8, 3)


def test_sparse_ring_is_shuffled_per_round_connected_and_auto_is_log2n():
    from carbide.federated.secure._masks import resolve_neighbors

    g0 = mask_neighbors(32, "auto", round_tag(0, b"x"))
    g1 = mask_neighbors(32, "auto", round_tag(1, b"x"))
    assert all(len(nb) == 6 for nb in g0)  # log2 32 = 5 -> 6
    assert all(i in g0[j] for i in range(32) for j in g0[i])
    assert g0 != g1  # a fresh graph every round
    seen, todo = {0}, [0]  # connected: every partial sum over a proper subset is masked
    while todo:
        for j in g0[todo.pop()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    assert seen == set(range(32))
    assert resolve_neighbors(5, "auto") is None  # k = 4 = n - 1: all pairs
    assert resolve_neighbors(64, "auto") == 6 and resolve_neighbors(1024, "auto") == 10
    assert resolve_neighbors(32, None) is None and resolve_neighbors(32, 2) == 2
    with pytest.raises(InvalidConfigError, match="even"):
        resolve_neighbors(8, "some")


@pytest.mark.parametrize("bits", [32, 64])
def test_sparse_pairwise_masks_sum_to_zero_exactly(bits):
    keys = x25519_keys(33, seed=1)
    for r in range(3):
        m = pairwise_masks(keys, 200, bits, round_tag(r, b"n"), "auto")
        assert (m.sum(axis=0, dtype=m.dtype) == 0).all()
        # the sum over any proper subset (here: the first 16) stays masked
        part = m[:16].sum(axis=0, dtype=m.dtype)
        assert (part != 0).mean() > 0.99


@pytest.mark.parametrize("bits", [32, 64])
def test_one_pass_encode_masked_equals_encode_then_masks(bits):
    from carbide.federated.secure._fixed import _CHUNK
    from carbide.federated.secure._masks import encode_masked, prg_add

    x = (np.random.default_rng(0).standard_normal(2 * _CHUNK + 7) * 0.5).astype(np.float32)
    streams = [(b"a" * 32, False), (b"b" * 32, True)]
    ref, c_ref = encode(x, clip=1.0, bits=bits, weight=0.3)
    for key, sub in streams:
        prg_add(key, ref, subtract=sub)
    got, c = encode_masked(x, clip=1.0, bits=bits, weight=0.3, streams=streams)
    assert c == c_ref > 0 and (got == ref).all()


@pytest.mark.parametrize("scheme", ["admin", "pairwise"])
@pytest.mark.parametrize("bits", [32, 64])
def test_secure_sum_equals_integer_sum_exactly(scheme, bits):
    r = mask_round(_updates(), torch.arange(1.0, 6.0), scheme=scheme, bits=bits, seed=2)
    total, partials = tree_sum(r.masked, fan_in=2)
    plain = r.encoded.sum(axis=0, dtype=r.encoded.dtype)
    assert (total == plain).all()
    assert [len(level) for level in partials] == [3, 2, 1]
    assert not (r.masked[0] == r.encoded[0]).all()


@pytest.mark.parametrize("scheme", ["admin", "pairwise"])
@pytest.mark.parametrize("bits", [32, 64])
def test_secure_aggregate_is_fedavg_within_fixed_point_error(scheme, bits):
    u, w = _updates(), torch.tensor([10.0, 20.0, 30.0, 5.0, 1.0])
    res = secure_aggregate(u, w, scheme=scheme, bits=bits, clip=1.0, seed=0, fan_in=3)
    ref = (w.double() / w.sum()) @ u.double()
    err = (res.update.double() - ref).abs().max().item()
    # fixed-point bound plus float32 rounding of the result
    assert err <= res.info["max_error"] + 1e-7 * ref.abs().max().item() + 1e-12
    assert res.info["clipped"] == 0
    torch.testing.assert_close(res.client_weights, w / w.sum())
    # the same as the plain aggregator of carbide.federated
    assert (res.update - FedAvg()(u, w, list("abcde")).update).abs().max() < 1e-6


def test_uniform_weights_when_none_and_clip_counted():
    u = _updates(n=4, d=50)
    u[1, :3] = 5.0
    res = secure_aggregate(u, None, clip=1.0, seed=1)
    assert res.info["clipped"] == 3 and res.info["clipped_per_client"] == [0, 3, 0, 0]
    expected = u.clamp(-1, 1).mean(0)
    assert (res.update - expected).abs().max() < 1e-6
    assert (res.update - fedavg(u, torch.ones(4))).abs().max() > 0.5  # clipping did act


def test_masked_updates_int64_range():
    m = masked_updates(_updates(), seed=4, bits=32)
    assert m.dtype == torch.int64 and m.shape == (5, 300)
    assert int(m.min()) >= 0 and int(m.max()) < 2**32
    m64 = masked_updates(_updates(), seed=4, bits=64, scheme="admin")
    assert m64.dtype == torch.int64 and int(m64.min()) < 0 < int(m64.max())


def test_masks_change_every_round_with_a_seed():
    a = masked_updates(_updates(), seed=4, round_index=0)
    b = masked_updates(_updates(), seed=4, round_index=1)
    assert (a != b).float().mean() > 0.99
    assert torch.equal(a, masked_updates(_updates(), seed=4, round_index=0))


def test_aggregation_tree_shape():
    assert aggregation_tree(10, 4) == [[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], [[0, 1, 2]]]
    assert aggregation_tree(2, 4) == [[[0, 1]]]


def test_bad_input_errors():
    u = _updates()
    with pytest.raises(InvalidConfigError, match="n = 1"):
        secure_aggregate(u[:1])
    one = secure_aggregate(u[:1], allow_single=True, seed=0)
    assert (one.update - u[0]).abs().max() < 1e-6
    with pytest.raises(InvalidConfigError, match="fan_in"):
        secure_aggregate(u, fan_in=1)
    with pytest.raises(InvalidConfigError, match="mismatched lengths"):
        secure_aggregate([torch.zeros(3), torch.zeros(4)])
    with pytest.raises(InvalidConfigError, match="bits"):
        secure_aggregate(u, bits=16)
    with pytest.raises(InvalidConfigError, match="clip"):
        secure_aggregate(u, clip=0.0)
    with pytest.raises(InvalidConfigError, match="scheme"):
        secure_aggregate(u, scheme="shamir")
    with pytest.raises(InvalidConfigError, match="weights"):
        secure_aggregate(u, torch.ones(3))
    bad = u.clone()
    bad[2, 0] = float("nan")
    with pytest.raises(InvalidConfigError, match="NaN"):
        secure_aggregate(bad)


def test_secure_aggregator_plugs_into_the_contract():
    agg = SecureAggregator(scheme="admin", seed=0)
    u, w = _updates(), torch.ones(5)
    r0 = agg(u, w, list("abcde"))
    agg(u, w, list("abcde"))
    assert agg.state_dict()["rounds_done"] == 2
    assert (r0.update - u.mean(0)).abs().max() < 1e-6
    with pytest.raises(InvalidConfigError, match="fan_in"):
        SecureAggregator(fan_in=1)


@pytest.mark.parametrize("bits", [32, 64])
def test_chunked_prg_add_matches_the_keystream(bits):
    from carbide.federated.secure._masks import _CHUNK, prg, prg_add

    d = _CHUNK + 1000  # crosses a chunk boundary
    t = np.zeros(d, dtype=np.uint32 if bits == 32 else np.uint64)
    prg_add(b"s" * 32, t)
    assert (t == prg(b"s" * 32, d, bits)).all()
    prg_add(b"s" * 32, t, subtract=True)
    assert not t.any()

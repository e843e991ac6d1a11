from __future__ import annotations

import pytest
import torch

from carbide.exceptions import InvalidConfigError
from carbide.serverless.aggregation import (
    SCHEMES,
    StoreAggregator,
    expected_bytes,
    run_round,
    shard_bounds,
)


def test_shard_bounds_cover_p_when_m_does_not_divide():
    b = shard_bounds(10, 4)
    assert b == [(0, 3), (3, 6), (6, 8), (8, 10)]
    with pytest.raises(InvalidConfigError, match="must not exceed"):
        shard_bounds(3, 4)
    with pytest.raises(InvalidConfigError, match="shards"):
        shard_bounds(3, 0)


@pytest.mark.parametrize("n", range(1, 9))
def test_every_scheme_gives_the_exact_mean(redis_url, n):
    g = torch.Generator().manual_seed(n)
    p = 37  # prime: m = 3 or 5 never divides it
    updates = torch.randn(n, p, generator=g) * torch.logspace(-3, 3, p)
    ref = updates.double().mean(0)
    outs = {}
    for scheme in SCHEMES:
        for m in {3, 5, n}:
            res = run_round(redis_url, scheme, updates, shards=m, job=f"exact-{scheme}-{n}-{m}")
            for got in res.means:
                assert torch.equal(got, res.mean)  # every worker holds the same vector
            err = (res.mean.double() - ref).abs()
            assert float((err / ref.abs().clamp_min(1e-30)).max()) <= 2 ** -24  # one rounding
            outs[(scheme, m)] = res.mean
    first = next(iter(outs.values()))
    assert all(torch.equal(v, first) for v in outs.values())  # identical across schemes


def test_weighted_mean(redis_url):
    updates = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    res = run_round(redis_url, "hierarchical", updates, shards=2, weights=[1, 3], job="wmean")
    assert torch.equal(res.mean, torch.tensor([2.5, 5.0]))


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("n", [2, 4, 8])
def test_bytes_moved_match_the_formulas(redis_url, scheme, n):
    p, m = 1001, n
    res = run_round(redis_url, scheme, torch.randn(n, p), shards=m, job=f"bytes-{scheme}-{n}")
    want = expected_bytes(scheme, n, p, m)
    requests = res.info["requests"]
    header = 40  # per stored tensor: dtype, shape; the weight scalars are 8 bytes each
    assert abs(res.bytes_per_worker - want["worker"]) <= header * max(requests[:n])
    assert abs(max(res.bytes_per_role) - want["max_function"]) <= header * max(requests)


def test_formulas_are_o_p_and_o_np():
    p = 10_000
    h = [expected_bytes("hierarchical", n, p, n)["worker"] for n in (2, 8, 64)]
    d = [expected_bytes("download_all", n, p, n)["worker"] for n in (2, 8, 64)]
    assert all(x <= 4 * 4 * p for x in h)  # 3P + P/n values of 4 bytes
    assert d == [4 * (n + 1) * p for n in (2, 8, 64)]


def test_wrong_shape_update_is_rejected_and_logged(redis_url, caplog):
    from carbide.serverless._keys import Keys
    from carbide.serverless.aggregation import aggregate
    from carbide.serverless.store import TensorStore

    with TensorStore(redis_url) as s:
        with pytest.raises(InvalidConfigError, match=r"expected \(5,\)"):
            aggregate(s, Keys("bad"), "hierarchical", 0, 0, 2, 2, torch.zeros(4), num_params=5)
        assert not s.exists(Keys("bad").update(0, 0, 0))  # nothing was stored
        assert not s.exists(Keys("bad").weight(0, 0))
    assert "rejected update of worker 0 in round 0" in caplog.text


def test_store_aggregator_follows_the_federated_contract(redis_url):
    agg = StoreAggregator(redis_url, "parameter_server")
    u = torch.randn(3, 11)
    out = agg(u, torch.tensor([1.0, 1.0, 2.0]), ["a", "b", "c"])
    want = (torch.tensor([1.0, 1.0, 2.0]).double() @ u.double() / 4).float()
    assert torch.allclose(out.update, want, rtol=1e-6) and out.accepted.all()
    assert agg.state_dict() == {"round": 1}

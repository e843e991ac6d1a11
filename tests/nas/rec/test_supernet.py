from __future__ import annotations

import numpy as np
import pytest
import torch

from carbide.nas.rec import RecSupernet, export_subnet, make_rec_space
from carbide.nas.rec.space import RecArch, RecBlock
from carbide.nas.rec.supernet import fm_interaction, pairwise_dots, seg_linear, seg_tokens

B, E = 5, 4


def _net(space, table, seed=0):
    return RecSupernet(space, table.vocab_sizes, table.bag_sizes, table.num_dense,
                       seed=seed).eval()


def test_pure_ops_shapes_and_values():
    g = torch.Generator().manual_seed(0)
    x1, x2 = torch.randn(B, 3, generator=g), torch.randn(B, 2, generator=g)
    w, b = torch.randn(6, 9, generator=g), torch.randn(6, generator=g)
    y = seg_linear([(x1, 0), (x2, 5)], w, b, 4)
    assert y.shape == (B, 4)
    torch.testing.assert_close(y, x1 @ w[:4, :3].T + x2 @ w[:4, 5:7].T + b[:4])
    s1, s2 = torch.randn(B, 3, E, generator=g), torch.randn(B, 2, E, generator=g)
    wt = torch.randn(5, 8, generator=g)
    u = seg_tokens([(s1, 0), (s2, 4)], wt, 3)
    assert u.shape == (B, 3, E)
    torch.testing.assert_close(u, torch.einsum("on,bne->boe", wt[:3, :3], s1)
                               + torch.einsum("on,bne->boe", wt[:3, 4:6], s2))
    f = fm_interaction([(s1, 0), (s2, 0)])
    allt = torch.cat([s1, s2], 1)
    pair = sum((allt[:, i] * allt[:, j]) for i in range(5) for j in range(i + 1, 5))
    assert f.shape == (B, E)
    torch.testing.assert_close(f, pair)
    d = pairwise_dots(allt)
    assert d.shape == (B, 10)
    torch.testing.assert_close(d[:, 0], (allt[:, 0] * allt[:, 1]).sum(-1))


@pytest.mark.parametrize("op", ["fc", "gating", "sum", "dot"])
def test_dense_ops_shape(op, table, tiny_space):
    net = _net(tiny_space, table)
    dense = [(torch.randn(B, net.d0), 0), (torch.randn(B, 8), net.dense_offset(3, 1))]
    sparse = [(torch.randn(B, net.n0, 16), 0)]
    for d in (4, 8):
        h = net._dense(3, op, d, dense, sparse)
        assert h.shape == (B, d) and torch.isfinite(h).all()


@pytest.mark.parametrize("op", ["efc", "attn"])
def test_sparse_ops_and_interactions_shape(op, table, tiny_space):
    net = _net(tiny_space, table)
    sparse = [(torch.randn(B, net.n0, 16), 0), (torch.randn(B, 3, 16), net.token_offset(2, 1, 0))]
    for t in (2, 3):
        u = net._sparse(2, op, t, sparse)
        assert u.shape == (B, t, 16)
    assert net._fm(2, 8, sparse).shape == (B, 8)
    assert net._merge(2, torch.randn(B, 8)).shape == (B, tiny_space.merger_tokens, 16)


@pytest.mark.parametrize("name", ["full", "small"])
@pytest.mark.parametrize("interactions", [True, False])
def test_index_run_equals_masked_run_everything(name, interactions, table, batch):
    space = make_rec_space(name, dense_dims=(4, 8), sparse_dims=(2, 3), merger_tokens=2,
                           num_blocks=4, interactions=interactions)
    net = _net(space, table)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for _ in range(15):
            arch = space.sample_arch(rng)
            y_index = net(batch, arch)
            assert y_index.shape == (6,)
            torch.testing.assert_close(y_index, net.forward_masked(batch, arch),
                                       rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(export_subnet(net, arch)(batch), y_index,
                                       rtol=1e-5, atol=1e-5)


def test_index_run_touches_only_chosen_weights(table, batch, tiny_space):
    net = _net(tiny_space, table).train()
    blk = RecBlock("fc", "efc", 4, 2, (0,), (0,), d2s=False, fm=False)
    last = RecBlock("gating", "attn", 8, 3, (1,), (0,), d2s=True, fm=True)
    arch = RecArch((blk, blk, last))
    net(batch, arch).sum().backward()
    b1, b2, b3 = net.blocks
    assert b1["fc_w"].grad is not None and b1["g1_w"].grad is None and b1["dp_w"].grad is None
    assert b1["fm_w"].grad is None and b1["atok_w"].grad is None
    assert all(p.grad is None for p in b2.values())   # block 2 is not needed by the output
    assert b3["g1_w"].grad is not None and b3["fc_w"].grad is None
    assert b3["fm_w"].grad is not None and b3["d2s_w"].grad is not None
    # prefix slicing: rows beyond the width and columns of unchosen inputs get no gradient
    assert b1["fc_w"].grad[4:].abs().sum() == 0 and b1["fc_w"].grad[:4].abs().sum() > 0
    assert b3["g1_w"].grad[:, :net.d0].abs().sum() == 0


def test_full_supernet_and_export(table, batch, tiny_space):
    net = _net(tiny_space, table)
    with torch.no_grad():
        y = net(batch)
    assert y.shape == (6,) and torch.isfinite(y).all()
    arch = tiny_space.sample_arch(np.random.default_rng(5))
    sub = export_subnet(net, arch)
    assert isinstance(sub, torch.nn.Module)
    n_sub = sum(p.numel() for p in sub.parameters())
    assert n_sub < sum(p.numel() for p in net.parameters())
    with torch.no_grad():
        before = sub(batch).clone()
        sub.reset_parameters(seed=1)
        after = sub(batch)
    assert not torch.allclose(before, after)
    assert sub.arch == arch

"""Synthetic power-law graphs and node-classification tasks for BiFeat benchmarks.

BiFeat (arXiv 2207.14696) reports its epoch-time gains on graphs with millions of nodes
(ogbn-products, ogbn-papers100M), whose degree distributions are heavy-tailed. Those datasets are
not shipped here, so the epoch-time benchmark uses a Chung-Lu graph of the same shape: node
weights follow a power law, each edge's endpoints are drawn with probability proportional to
weight, duplicates and self loops are dropped. Everything is vectorized torch: 2M nodes with
average degree 10 take seconds and O(E) memory.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    from torch_geometric.data import Data

__all__ = ["power_law_graph", "synthetic_node_task"]

# endpoint draws per round are generated in chunks of this many to bound peak memory
_CHUNK = 1 << 22


def _draw(cdf: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, gen: torch.Generator):
    """Inverse-CDF draws: for each row, a position ``i`` with ``cdf[i-1] <= u < cdf[i]`` for
    ``u`` uniform in ``[lo, hi)``."""
    u = lo + torch.rand(lo.numel(), generator=gen, dtype=torch.float64) * (hi - lo)
    return torch.searchsorted(cdf, u, right=True).clamp_(max=cdf.numel() - 1)


def _expected_degrees(n: int, gamma: float, total: float, cap: float) -> torch.Tensor:
    """Descending expected degrees ``min(cap, s * r ** (-1 / (gamma - 1)))``, ``r = 1..n``,
    with the scale ``s`` chosen so that they sum to ``total``; needs ``total <= n * cap``."""
    ws = torch.arange(1, n + 1, dtype=torch.float64).pow(-1.0 / (gamma - 1.0))
    tail = ws.flip(0).cumsum(0).flip(0)  # tail[m] = ws[m:].sum()
    m = torch.arange(n, dtype=torch.float64)
    # if the m largest are capped, the rest share total - m * cap pro rata; the right m is the
    # first one whose largest uncapped degree stays under the cap
    scale = (total - m * cap) / tail
    first = int(torch.argmax((scale * ws <= cap).to(torch.int8)))
    out = scale[first] * ws
    out[:first] = cap
    return out


def power_law_graph(
    num_nodes: int,
    avg_degree: float = 10,
    exponent: float = 2.1,
    *,
    seed: int = 0,
    max_degree: int | None = None,
    labels: torch.Tensor | None = None,
    homophily: float = 0.0,
) -> torch.Tensor:
    """An undirected Chung-Lu graph with a power-law degree distribution.

    Node ``i`` (in a random order) gets weight ``(i + 1) ** (-1 / (exponent - 1))``, whose
    expected-degree sequence has tail ``P(deg >= d) ~ d ** (1 - exponent)``. Weights are capped
    at an expected degree of ``max_degree`` (default: the structural cut-off
    ``sqrt(num_nodes * avg_degree)``, beyond which Chung-Lu edge probabilities exceed 1 and
    duplicates would be dropped anyway); the expected degrees are rescaled to keep their mean at
    ``avg_degree`` under the cap. Undirected edges are drawn, endpoints independently
    proportional to weight; self loops and repeats are dropped, and more edges are drawn until
    the average degree reaches ``avg_degree`` (a few rounds at most).

    Args:
        num_nodes: ``N >= 2``.
        avg_degree: target mean degree (each undirected edge counts at both ends), > 0,
            at most ``N - 1``. Default 10.
        exponent: power-law exponent ``> 2`` (real networks: 2..3). Default 2.1.
        seed: random seed (default 0); the same arguments give the same graph.
        max_degree: cap on any node's expected degree, >= ``avg_degree`` (default: see above).
        labels: optional int64 ``(N,)`` community of each node; with ``homophily > 0``, each
            edge's second endpoint is drawn from the first endpoint's community with
            probability ``homophily`` (still proportional to weight), so edges mostly join
            nodes of the same label.
        homophily: in ``[0, 1]``, default 0 (needs ``labels`` when > 0).

    Returns:
        int64 ``(2, E)`` edge index with both directions of every edge, no self loops, no
        duplicates: first the ``E / 2`` edges ``u -> v`` with ``u < v`` sorted by ``(u, v)``,
        then their reverses. ``E / N`` equals ``avg_degree`` up to rounding (a graph too dense to
        fill in 8 rounds of draws, ``avg_degree`` close to ``N - 1``, stays below it).

    Raises:
        InvalidConfigError: an argument is out of range (the message names it and the range).
    """
    n = check_int("num_nodes", num_nodes, 2)
    avg = check_real("avg_degree", avg_degree, 0.0, float(n - 1), lo_open=True)
    gamma = check_real("exponent", exponent, 2.0, 100.0, lo_open=True)
    check_int("seed", seed, 0)
    h = check_real("homophily", homophily, 0.0, 1.0, lo_open=False)
    cap = math.sqrt(n * avg) if max_degree is None else check_int("max_degree", max_degree, 1)
    if labels is not None:
        if not isinstance(labels, torch.Tensor) or labels.shape != (n,) or (
            labels.dtype == torch.bool or labels.dtype.is_floating_point
        ):
            raise InvalidConfigError(
                f"labels must be an integer tensor of shape ({n},), got "
                f"{getattr(labels, 'dtype', type(labels).__name__)} "
                f"{tuple(getattr(labels, 'shape', ()))}"
            )
        if labels.numel() and int(labels.min()) < 0:
            raise InvalidConfigError(f"labels must be >= 0, got {int(labels.min())}")
    elif h > 0:
        raise InvalidConfigError(f"homophily={h} needs labels (one community id per node)")

    if cap < avg:
        raise InvalidConfigError(
            f"max_degree must be >= avg_degree = {avg}, got {max_degree!r}"
        )

    gen = torch.Generator().manual_seed(seed)
    target = int(round(n * avg / 2))  # undirected edges
    w = torch.empty(n, dtype=torch.float64)
    w[torch.randperm(n, generator=gen)] = _expected_degrees(n, gamma, 2.0 * target, cap)

    if labels is not None and h > 0:
        lab = labels.to("cpu", torch.long)
        order = torch.argsort(lab, stable=True)  # nodes grouped by community
        counts = torch.bincount(lab)
        ends = torch.cumsum(counts, 0)
        block_of = torch.repeat_interleave(torch.arange(counts.numel()), counts)
    else:
        lab = None
        order = torch.arange(n)
    cdf = torch.cumsum(w[order], 0)
    cdf /= cdf[-1].clone()
    if lab is not None:
        block_lo = torch.cat([cdf.new_zeros(1), cdf])[ends - counts]
        block_hi = cdf[ends - 1]

    keys = torch.empty(0, dtype=torch.long)
    for _ in range(8):
        missing = target - keys.numel()
        if missing <= 0:
            break
        draws = int(missing * 1.05) + 16
        parts = [keys]
        for start in range(0, draws, _CHUNK):
            m = min(_CHUNK, draws - start)
            zero, one = torch.zeros(m, dtype=torch.float64), torch.ones(m, dtype=torch.float64)
            a = _draw(cdf, zero, one, gen)
            if lab is not None:
                same = torch.rand(m, generator=gen) < h
                blk = block_of[a[same]]
                lo, hi = zero.clone(), one.clone()
                lo[same], hi[same] = block_lo[blk], block_hi[blk]
                b = _draw(cdf, lo, hi, gen)
            else:
                b = _draw(cdf, zero, one, gen)
            a, b = order[a], order[b]
            keep = a != b
            a, b = a[keep], b[keep]
            parts.append(torch.minimum(a, b) * n + torch.maximum(a, b))
        keys = torch.unique(torch.cat(parts))
    if keys.numel() > target:
        # drop a random surplus so the mean degree is exactly 2 * target / n
        keep = torch.randperm(keys.numel(), generator=gen)[:target]
        keys = keys[keep.sort().values]
    u, v = keys // n, keys % n
    return torch.stack([torch.cat([u, v]), torch.cat([v, u])])


def synthetic_node_task(
    num_nodes: int,
    num_features: int = 128,
    num_classes: int = 16,
    avg_degree: float = 10,
    *,
    seed: int = 0,
    exponent: float = 2.1,
    homophily: float = 0.7,
    noise: float = 6.0,
    train_fraction: float = 0.1,
    val_fraction: float = 0.1,
) -> Data:
    """A node-classification task on a :func:`power_law_graph`, for epoch-time benchmarks.

    Labels are uniform over ``num_classes``; the graph joins same-label nodes with probability
    ``homophily``; features are ``mu[y] + noise * eps`` with class means ``mu ~ N(0, I)`` and
    ``eps ~ N(0, I)``, so one node's features are a weak hint and neighbour aggregation helps,
    as in real citation / co-purchase graphs. The split is random, ogbn-products-like by default
    (10% train, 10% validation, the rest test); a benchmark usually cares about the training
    nodes, since they set the epoch time.

    Args:
        num_nodes: ``N >= 2``.
        num_features: ``D >= 1`` (default 128).
        num_classes: ``C >= 2`` (default 16).
        avg_degree: mean degree (default 10).
        seed: random seed (default 0); same arguments, same task.
        exponent: degree power-law exponent (default 2.1).
        homophily: fraction of edges drawn within a class (default 0.7).
        noise: per-dimension feature noise standard deviation, in units of the class means'
            spread (default 6.0: with ``D = 128`` and ``C = 16`` a nearest-class-mean guess
            from a node's own features is right ~55% of the time, one round of neighbour
            averaging lifts it to ~72%).
        train_fraction: share of nodes in ``train_mask`` (default 0.1).
        val_fraction: share in ``val_mask`` (default 0.1); the rest is ``test_mask``.

    Returns:
        ``torch_geometric.data.Data`` with ``x`` float32 ``(N, D)``, ``edge_index`` int64
        ``(2, E)`` (undirected, both directions), ``y`` int64 ``(N,)``, bool ``(N,)``
        ``train_mask`` / ``val_mask`` / ``test_mask`` (disjoint, covering every node).

    Raises:
        InvalidConfigError: an argument is out of range.
        MissingDependencyError: torch_geometric is not installed.
    """
    from ..._imports import optional_import

    data_mod = optional_import("torch_geometric.data", "graph", purpose="synthetic_node_task")
    n = check_int("num_nodes", num_nodes, 2)
    d = check_int("num_features", num_features, 1)
    c = check_int("num_classes", num_classes, 2)
    check_int("seed", seed, 0)
    sigma = check_real("noise", noise, 0.0, 1e6, lo_open=False)
    tr = check_real("train_fraction", train_fraction, 0.0, 1.0, lo_open=True)
    va = check_real("val_fraction", val_fraction, 0.0, 1.0, lo_open=False)
    if tr + va > 1.0:
        raise InvalidConfigError(
            f"train_fraction + val_fraction must be <= 1, got {tr} + {va} = {tr + va}"
        )
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(c, (n,), generator=gen)
    edge_index = power_law_graph(
        n, avg_degree, exponent, seed=seed + 1, labels=y, homophily=homophily
    )
    mu = torch.randn(c, d, generator=gen)
    x = mu[y]
    x += sigma * torch.randn(n, d, generator=gen)
    perm = torch.randperm(n, generator=gen)
    n_train = max(1, int(round(tr * n)))
    n_val = min(n - n_train, int(round(va * n)))
    masks = []
    for lo, hi in ((0, n_train), (n_train, n_train + n_val), (n_train + n_val, n)):
        m = torch.zeros(n, dtype=torch.bool)
        m[perm[lo:hi]] = True
        masks.append(m)
    return data_mod.Data(
        x=x, edge_index=edge_index, y=y, train_mask=masks[0], val_mask=masks[1],
        test_mask=masks[2], num_nodes=n,
    )

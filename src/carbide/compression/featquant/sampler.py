"""Mini-batch neighbour sampling for GNN training, vectorized in plain torch.

BiFeat (Ma et al., "BiFeat: Supercharge GNN Training via Graph Feature Quantization",
arXiv 2207.14696) trains GraphSAGE on mini-batches: for each batch of seed nodes it samples a
fixed number of in-neighbours per hop, then gathers the (quantized) input features of every node
the sample reached. This module provides the sampling half.

Why it exists: torch_geometric's ``NeighborLoader`` / ``NeighborSampler`` delegate the sampling
to compiled ops from ``pyg-lib`` or ``torch-sparse``, and neither ships a wheel for the torch
build carbide targets here (torch 2.13 CPU). :class:`NeighborSampler` is a drop-in for that path
written with torch tensor ops only, so it runs wherever torch runs. When pyg-lib or torch-sparse
is installed, a user can pass PyG's sampler to
:func:`carbide.compression.featquant.train.train_node_classifier` instead: anything with
``.sample(seeds) -> object with n_id, edge_index, batch_size`` works, e.g.::

    from types import SimpleNamespace
    from torch_geometric.sampler import NeighborSampler, NodeSamplerInput

    class PyGSampler:
        def __init__(self, data, fanouts):
            self.pyg = NeighborSampler(data, list(fanouts))

        def sample(self, seeds):
            out = self.pyg.sample_from_nodes(NodeSamplerInput(input_id=None, node=seeds))
            return SimpleNamespace(
                n_id=out.node, edge_index=torch.stack([out.row, out.col]),
                batch_size=len(seeds), num_sampled_nodes=out.num_sampled_nodes,
                num_sampled_edges=out.num_sampled_edges)

How it samples, per hop, for all frontier nodes at once (no Python loop over nodes):

* a node of in-degree ``d <= k`` keeps its whole CSR range (no random numbers, no sort);
* a node of in-degree ``d > k`` gets ``k`` distinct neighbours, uniform over all k-subsets, by
  Robert Floyd's algorithm run column by column across the nodes: ``k`` vectorized steps of
  ``O(k)`` work per node, so a hub with 10^5 in-neighbours costs the same as one with ``k + 1``
  (a random-key sort would cost ``O(d log d)`` per hub, which dominates on power-law graphs);
* newly reached nodes are deduplicated with a global->local id map of size ``N`` that is
  allocated once, reused across calls and reset after each call.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from ...exceptions import InvalidConfigError
from ._index import check_index

__all__ = [
    "CSRGraph",
    "NeighborSampler",
    "NodeBatches",
    "SampledSubgraph",
    "check_fanouts",
]

_FANOUT_HELP = "a non-empty sequence of ints, each >= 1 or -1 (all neighbours)"


def check_fanouts(fanouts: Sequence[int]) -> tuple[int, ...]:
    """Return ``fanouts`` as a tuple of ints, or raise :class:`InvalidConfigError`.

    Args:
        fanouts: neighbours to sample per hop, the seeds' hop first; ``-1`` takes all of them.
    """
    if isinstance(fanouts, (str, bytes)) or not isinstance(fanouts, Sequence):
        raise InvalidConfigError(f"fanouts must be {_FANOUT_HELP}, got {fanouts!r}")
    if len(fanouts) == 0:
        raise InvalidConfigError(f"fanouts must be {_FANOUT_HELP}, got an empty sequence")
    for k in fanouts:
        if isinstance(k, bool) or not isinstance(k, int) or (k < 1 and k != -1):
            raise InvalidConfigError(
                f"fanout {k!r} in {tuple(fanouts)!r} is not allowed; fanouts must be "
                f"{_FANOUT_HELP}"
            )
    return tuple(int(k) for k in fanouts)


@dataclass(frozen=True)
class CSRGraph:
    """A graph stored by destination: the in-neighbours of node ``v`` are
    ``indices[indptr[v]:indptr[v + 1]]``.

    Args:
        indptr: int64 ``(N + 1,)``, non-decreasing, ``indptr[0] == 0``, ``indptr[-1] == E``.
        indices: int64 ``(E,)`` source node ids in ``0 .. N - 1``, grouped by destination.

    Raises:
        InvalidConfigError: the arrays are not a valid CSR structure.
    """

    indptr: torch.Tensor
    indices: torch.Tensor

    def __post_init__(self) -> None:
        for name in ("indptr", "indices"):
            t = getattr(self, name)
            if not isinstance(t, torch.Tensor) or t.dim() != 1 or t.dtype != torch.long:
                what = (f"{t.dtype} tensor of shape {tuple(t.shape)}"
                        if isinstance(t, torch.Tensor) else type(t).__name__)
                raise InvalidConfigError(f"{name} must be a 1-D int64 tensor, got {what}")
        ptr, idx = self.indptr, self.indices
        if ptr.numel() == 0 or int(ptr[0]) != 0 or int(ptr[-1]) != idx.numel():
            raise InvalidConfigError(
                f"indptr must start at 0 and end at len(indices) = {idx.numel()}, got "
                f"{ptr[:1].tolist()} .. {ptr[-1:].tolist()}"
            )
        if ptr.numel() > 1 and bool((ptr[1:] < ptr[:-1]).any()):
            raise InvalidConfigError("indptr must be non-decreasing")
        n = ptr.numel() - 1
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= n):
            bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
            raise InvalidConfigError(f"indices hold node {bad}, outside 0..{n - 1}")

    @classmethod
    def from_edge_index(cls, edge_index: torch.Tensor, num_nodes: int) -> CSRGraph:
        """Build the in-neighbour CSR of a directed edge list.

        Args:
            edge_index: integer ``(2, E)``; row 0 = source, row 1 = destination (messages flow
                source -> destination, as in torch_geometric). Undirected graphs list both
                directions.
            num_nodes: ``N``; every id must be in ``0 .. N - 1``.

        Returns:
            The CSR; within one destination, sources keep their order in ``edge_index``.

        Raises:
            InvalidConfigError: wrong type/shape/dtype, or an id outside ``0 .. N - 1`` (the
                message names the id and the edge).
        """
        if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 0:
            raise InvalidConfigError(f"num_nodes must be an integer >= 0, got {num_nodes!r}")
        if not isinstance(edge_index, torch.Tensor):
            raise InvalidConfigError(
                f"edge_index must be a torch.Tensor of shape (2, E), got "
                f"{type(edge_index).__name__}"
            )
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise InvalidConfigError(
                f"edge_index must have shape (2, E), got {tuple(edge_index.shape)}"
            )
        dt = edge_index.dtype
        if dt == torch.bool or dt.is_floating_point or dt.is_complex:
            raise InvalidConfigError(f"edge_index must be an integer tensor, got dtype {dt}")
        ei = edge_index.to("cpu", torch.long)
        if ei.numel():
            lo, hi = int(ei.min()), int(ei.max())
            if lo < 0 or hi >= num_nodes:
                bad = lo if lo < 0 else hi
                where = (ei == bad).nonzero()[0].tolist()
                raise InvalidConfigError(
                    f"edge_index holds node {bad} (row {where[0]}, edge {where[1]}), outside "
                    f"the valid range 0..{num_nodes - 1} for num_nodes={num_nodes}"
                )
        src, dst = ei[0], ei[1]
        perm = torch.argsort(dst, stable=True)
        counts = torch.bincount(dst, minlength=num_nodes)
        indptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=indptr[1:])
        return cls(indptr=indptr, indices=src[perm].contiguous())

    @property
    def num_nodes(self) -> int:
        return self.indptr.numel() - 1

    @property
    def num_edges(self) -> int:
        return self.indices.numel()

    def degree(self) -> torch.Tensor:
        """In-degree of every node, int64 ``(N,)``."""
        return self.indptr[1:] - self.indptr[:-1]


@dataclass
class SampledSubgraph:
    """One sampled mini-batch, laid out like torch_geometric's ``NeighborLoader`` output.

    Attributes:
        n_id: int64 ``(M,)`` global ids of the subgraph's nodes: the seeds first in the given
            order, then the nodes each hop reached for the first time, hop by hop.
        edge_index: int64 ``(2, E_s)`` local ids (positions in ``n_id``), messages
            ``edge_index[0] -> edge_index[1]``; edges are grouped by hop, and a hop-``h`` edge
            ends at a node first reached in hop ``h - 1`` (hop 0 = the seeds).
        batch_size: number of seeds; the model's first ``batch_size`` outputs are theirs.
        num_sampled_nodes: ``[batch_size, new nodes in hop 1, ...]`` (length hops + 1).
        num_sampled_edges: edges per hop (length hops).
    """

    n_id: torch.Tensor
    edge_index: torch.Tensor
    batch_size: int
    num_sampled_nodes: list[int] = field(default_factory=list)
    num_sampled_edges: list[int] = field(default_factory=list)

    @property
    def num_nodes(self) -> int:
        return self.n_id.numel()


def _expand(indptr: torch.Tensor, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every CSR position of ``nodes``' rows and, for each, the index into ``nodes`` it
    belongs to: ``(pos (S,), owner (S,))`` with ``S = sum(degree[nodes])``."""
    start = indptr[nodes]
    deg = indptr[nodes + 1] - start
    total = int(deg.sum())
    owner = torch.repeat_interleave(torch.arange(nodes.numel()), deg, output_size=total)
    first = torch.cumsum(deg, 0) - deg
    pos = torch.arange(total) - first[owner] + start[owner]
    return pos, owner


def _floyd(deg: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """``k`` distinct offsets in ``0 .. d - 1`` per row, uniform over k-subsets (Floyd's
    algorithm, vectorized over rows); needs ``deg > k`` elementwise. Returns int64 ``(B, k)``."""
    out = torch.empty(deg.numel(), k, dtype=torch.long)
    # float64 uniforms: 53 bits, so flooring u * (j + 1) is unbiased for any realistic degree
    u = torch.rand(deg.numel(), k, generator=gen, dtype=torch.float64)
    for step in range(k):
        j = deg - k + step
        t = torch.minimum((u[:, step] * (j + 1).to(torch.float64)).long(), j)
        if step:
            taken = (out[:, :step] == t.unsqueeze(1)).any(1)
            t = torch.where(taken, j, t)
        out[:, step] = t
    return out


class NeighborSampler:
    """Uniform multi-hop in-neighbour sampler (GraphSAGE / PyG ``NeighborLoader`` semantics).

    Args:
        graph: the graph as a :class:`CSRGraph` (in-neighbours per destination).
        fanouts: neighbours per hop, ``fanouts[0]`` for the seeds' hop as in PyG's
            ``num_neighbors``; ``-1`` takes all neighbours. Default ``(15, 10, 5)`` (see
            ``TrainConfig`` for how that maps to the paper's "5,10,15").
        replace: sample with replacement (every node with ``d > 0`` gets exactly ``k``
            neighbours, possibly repeated). Default ``False``: ``min(k, d)`` distinct ones.
        seed: seed of the sampler's own ``torch.Generator``; the same seed and the same
            sequence of :meth:`sample` calls give the same subgraphs.

    Not thread-safe: one instance holds one id map (DataLoader worker processes each get a copy,
    which is fine).
    """

    def __init__(
        self,
        graph: CSRGraph,
        fanouts: Sequence[int] = (15, 10, 5),
        *,
        replace: bool = False,
        seed: int = 0,
    ) -> None:
        if not isinstance(graph, CSRGraph):
            raise InvalidConfigError(
                f"graph must be a CSRGraph (see CSRGraph.from_edge_index), got "
                f"{type(graph).__name__}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidConfigError(f"seed must be a non-negative integer, got {seed!r}")
        self.graph = graph
        self.fanouts = check_fanouts(fanouts)
        self.replace = bool(replace)
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self._map: torch.Tensor | None = None

    def manual_seed(self, seed: int) -> NeighborSampler:
        """Restart the random stream from ``seed``; returns ``self``."""
        self.seed = seed
        self.generator.manual_seed(seed)
        return self

    def sample(self, seeds: torch.Tensor) -> SampledSubgraph:
        """Sample the multi-hop neighbourhood of ``seeds``.

        Args:
            seeds: distinct node ids, int ``(B,)`` (negative ids count from the end).

        Returns:
            A :class:`SampledSubgraph` (empty when ``seeds`` is empty).

        Raises:
            IndexError / TypeError: a seed is out of range / not an integer tensor.
            InvalidConfigError: a seed is repeated.
        """
        g = self.graph
        seeds = check_index(seeds, g.num_nodes)
        b = seeds.numel()
        if b and torch.unique(seeds).numel() != b:
            raise InvalidConfigError("seeds must be distinct node ids; got repeated ids")
        if self._map is None or self._map.numel() != g.num_nodes:
            self._map = torch.full((g.num_nodes,), -1, dtype=torch.long)
        node_map = self._map
        n_ids = [seeds]
        num_nodes, num_edges = [b], []
        rows, cols = [], []
        count = b
        try:
            node_map[seeds] = torch.arange(b)
            frontier, frontier_local = seeds, torch.arange(b)
            for k in self.fanouts:
                src_pos, dst_local = self._sample_hop(frontier, frontier_local, k)
                nbr = g.indices[src_pos]
                new = torch.unique(nbr[node_map[nbr] < 0])
                n_ids.append(new)  # before the map is written, so `finally` resets it
                new_local = torch.arange(count, count + new.numel())
                node_map[new] = new_local
                rows.append(node_map[nbr])
                cols.append(dst_local)
                num_nodes.append(new.numel())
                num_edges.append(nbr.numel())
                frontier, frontier_local = new, new_local
                count += new.numel()
        finally:
            n_id = torch.cat(n_ids)
            node_map[n_id] = -1
        edge_index = torch.stack([torch.cat(rows), torch.cat(cols)])
        return SampledSubgraph(n_id, edge_index, b, num_nodes, num_edges)

    def _sample_hop(
        self, nodes: torch.Tensor, local: torch.Tensor, k: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """CSR positions of the sampled in-edges of ``nodes`` and their destinations' local
        ids."""
        indptr = self.graph.indptr
        if nodes.numel() == 0:
            empty = torch.empty(0, dtype=torch.long)
            return empty, empty
        if k < 0:
            pos, owner = _expand(indptr, nodes)
            return pos, local[owner]
        start = indptr[nodes]
        deg = indptr[nodes + 1] - start
        if self.replace:
            has = deg > 0
            start, deg, dst = start[has], deg[has], local[has]
            u = torch.rand(deg.numel(), k, generator=self.generator, dtype=torch.float64)
            off = torch.minimum((u * deg.unsqueeze(1).to(torch.float64)).long(),
                                (deg - 1).unsqueeze(1))
            return (start.unsqueeze(1) + off).reshape(-1), dst.repeat_interleave(k)
        big = deg > k
        small = ~big
        pos_s, owner = _expand(indptr, nodes[small])
        dst_s = local[small][owner]
        if not bool(big.any()):
            return pos_s, dst_s
        off = _floyd(deg[big], k, self.generator)
        pos_b = (start[big].unsqueeze(1) + off).reshape(-1)
        dst_b = local[big].repeat_interleave(k)
        return torch.cat([pos_s, pos_b]), torch.cat([dst_s, dst_b])


def _mix_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed from ``(seed, epoch)`` (splitmix64 finalizer), stable across platforms."""
    mask = (1 << 64) - 1
    x = (seed * 0x9E3779B97F4A7C15 + epoch + 1) & mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return (x ^ (x >> 31)) & ((1 << 63) - 1)


class NodeBatches:
    """Batches of seed nodes, reshuffled every epoch, reproducibly.

    Each ``iter()`` is one epoch: with ``shuffle`` the order is a permutation drawn from a
    generator seeded by ``(seed, epoch)``, so epoch ``e`` is the same in every run regardless
    of what else consumed random numbers. The epoch counter starts at 0 and advances on each
    ``iter()``; :meth:`set_epoch` sets it.

    Args:
        nodes: int64 ``(n,)`` node ids, or a bool mask ``(N,)`` (its ``True`` positions).
        batch_size: seeds per batch (>= 1); the last batch may be smaller.
        shuffle: shuffle every epoch (default ``True``); otherwise the given order.
        seed: base seed (default 0).
    """

    def __init__(
        self, nodes: torch.Tensor, batch_size: int, *, shuffle: bool = True, seed: int = 0
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InvalidConfigError(f"seed must be a non-negative integer, got {seed!r}")
        if not isinstance(nodes, torch.Tensor):
            nodes = torch.as_tensor(nodes)
        if nodes.dtype == torch.bool:
            nodes = nodes.reshape(-1).nonzero().reshape(-1)
        elif nodes.dtype.is_floating_point or nodes.dtype.is_complex:
            raise InvalidConfigError(
                f"nodes must be an integer id tensor or a bool mask, got dtype {nodes.dtype}"
            )
        self.nodes = nodes.reshape(-1).to("cpu", torch.long)
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` epoch ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return -(-self.nodes.numel() // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        nodes = self.nodes
        if self.shuffle:
            gen = torch.Generator().manual_seed(_mix_seed(self.seed, epoch))
            nodes = nodes[torch.randperm(nodes.numel(), generator=gen)]
        return iter(nodes.split(self.batch_size))

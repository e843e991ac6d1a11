"""Cells: node-labelled DAGs, their validity rules and a canonical (isomorphism-invariant) hash.

A :class:`Cell` is the NAS-Bench-101 picture of an architecture cell (Ying et al., ICML 2019,
arXiv 1902.09635): ``n`` nodes in a topological order, an ``(n, n)`` strictly upper-triangular
0/1 adjacency matrix (``adjacency[i, j] = 1``: an edge ``i -> j``), node ``0`` labelled
``"input"``, node ``n - 1`` labelled ``"output"`` and one op label per interior node.

Hashing. :meth:`Cell.hash` is a canonical form, not a heuristic: colour refinement
(1-dimensional Weisfeiler-Lehman on the directed graph, refining by op, in-neighbour colours
and out-neighbour colours, as NAS-Bench-101's ``hash_module`` does) followed, when refinement
leaves vertices tied, by individualization-refinement search that keeps the lexicographically
smallest certificate (the scheme of nauty/bliss, McKay & Piperno 2014). Ties between *twins*
(same op, same in- and out-neighbour sets: swapping them is an automorphism) are branched on
once only, which keeps the search tiny for the DAGs of NAS spaces. The hash is the SHA-256 of
the canonical certificate (ops and adjacency in canonical order), so two cells hash equal
**if and only if** they are isomorphic as labelled DAGs. We wrote it rather than depend on
pynauty (not an installed dependency) because the cells are small and labelled. A search that
would exceed :data:`MAX_CANONICAL_LEAVES` leaves (only for highly symmetric graphs far from
NAS cells) falls back to the refinement-only hash, still isomorphism-invariant; such hashes
start with ``"wl-"`` so they can be told apart.

Equality. ``cell == other`` and ``hash(cell)`` compare the exact representation (matrix, ops
and the optional benchmark ``arch`` key), as a dataclass would; compare ``a.hash() ==
b.hash()`` (or :meth:`Cell.is_isomorphic`) for "same architecture up to node order".

Validity (:func:`validate_cell`): strictly upper triangular (so acyclic, in topological order),
``"input"``/``"output"`` labels at the ends only, every node on an input-to-output path
(NAS-Bench-101's pruning rule: :meth:`Cell.prune` drops the others), known ops, and caps on
nodes and edges. Each failure raises :class:`~carbide.exceptions.InvalidArchitectureError`
whose message starts with the rule's name (``"cycle"``, ``"unreachable"``, ``"unknown op"``,
``"too many nodes"``, ``"too many edges"``, ``"labels"``, ``"shape"``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..exceptions import InvalidArchitectureError

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx

__all__ = ["INPUT", "MAX_CANONICAL_LEAVES", "OUTPUT", "Cell", "validate_cell"]

INPUT = "input"
OUTPUT = "output"
#: Leaves of the individualization-refinement search before :meth:`Cell.hash` falls back to
#: the refinement-only (still isomorphism-invariant) hash.
MAX_CANONICAL_LEAVES = 2048


@dataclass(frozen=True, eq=False)
class Cell:
    """A cell: a DAG over ``n`` op-labelled nodes in topological order.

    Attributes:
        adjacency: uint8 array ``(n, n)``, ``adjacency[i, j] = 1`` for an edge ``i -> j``;
            stored read-only. Strict upper-triangularity is checked by :func:`validate_cell`,
            not here, so invalid cells can be built and diagnosed.
        ops: ``n`` op names; ``ops[0] == "input"``, ``ops[-1] == "output"`` for a valid cell.
        arch: optional benchmark key this cell stands for (the NAS-Bench-201 6-digit key, or
            NASLib's NAS-Bench-101 key string for table cells); evaluators look the table up
            by it. ``None`` for free-form cells.

    Raises:
        InvalidArchitectureError: ``"shape"``: the matrix is not square, does not match the
            number of ops, or holds values other than 0/1.
    """

    adjacency: np.ndarray
    ops: tuple[str, ...]
    arch: str | None = None
    # Memo of hash(); init=False so dataclasses.replace() never copies a stale value.
    _hash: list = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        adj = np.asarray(self.adjacency)
        if adj.ndim != 2 or adj.shape[0] != adj.shape[1]:
            raise InvalidArchitectureError(
                f"shape: adjacency must be a square (n, n) matrix, got shape {adj.shape}"
            )
        if adj.size and not np.isin(adj, (0, 1)).all():
            raise InvalidArchitectureError(
                f"shape: adjacency entries must be 0 or 1, got values {np.unique(adj).tolist()}"
            )
        ops = tuple(str(op) for op in self.ops)
        if len(ops) != adj.shape[0]:
            raise InvalidArchitectureError(
                f"shape: {len(ops)} ops for a {adj.shape[0]}x{adj.shape[0]} adjacency matrix; "
                f"give one op per node"
            )
        adj = np.array(adj, dtype=np.uint8, copy=True)
        adj.setflags(write=False)
        object.__setattr__(self, "adjacency", adj)
        object.__setattr__(self, "ops", ops)
        object.__setattr__(self, "_hash", [])
        if self.arch is not None:
            object.__setattr__(self, "arch", str(self.arch))

    # ----------------------------------------------------------------- basic properties

    @property
    def num_nodes(self) -> int:
        """Number of nodes ``n`` (input and output included)."""
        return int(self.adjacency.shape[0])

    @property
    def num_edges(self) -> int:
        """Number of edges (ones in the adjacency matrix)."""
        return int(self.adjacency.sum())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cell):
            return NotImplemented
        return (
            self.ops == other.ops
            and self.arch == other.arch
            and np.array_equal(self.adjacency, other.adjacency)
        )

    def __hash__(self) -> int:
        return hash((self.adjacency.tobytes(), self.adjacency.shape[0], self.ops, self.arch))

    def __repr__(self) -> str:
        edges = [(int(i), int(j)) for i, j in np.argwhere(self.adjacency)]
        arch = f", arch={self.arch!r}" if self.arch is not None else ""
        return f"Cell(ops={list(self.ops)}, edges={edges}{arch})"

    # ----------------------------------------------------------------- constructors

    @classmethod
    def from_edges(
        cls, num_nodes: int, edges: Iterable[tuple[int, int]], ops: Sequence[str],
        *, arch: str | None = None,
    ) -> Cell:
        """Build a cell from an edge list ``[(src, dst), ...]`` over ``num_nodes`` nodes."""
        adj = np.zeros((num_nodes, num_nodes), dtype=np.uint8)
        for i, j in edges:
            adj[int(i), int(j)] = 1
        return cls(adj, tuple(ops), arch)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: ``{"adjacency": [[...]], "ops": [...], "arch": ...}``."""
        return {"adjacency": self.adjacency.tolist(), "ops": list(self.ops), "arch": self.arch}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        """Inverse of :meth:`to_dict`."""
        return cls(np.asarray(data["adjacency"], dtype=np.uint8), tuple(data["ops"]),
                   data.get("arch"))

    def to_networkx(self) -> nx.DiGraph:
        """The cell as a ``networkx.DiGraph`` with node attribute ``op`` (needs ``[nas]``)."""
        from .._imports import optional_import

        networkx = optional_import("networkx", "nas", purpose="Cell.to_networkx")
        graph = networkx.DiGraph()
        for v, op in enumerate(self.ops):
            graph.add_node(v, op=op)
        graph.add_edges_from((int(i), int(j)) for i, j in np.argwhere(self.adjacency))
        return graph

    # ----------------------------------------------------------------- structure

    def on_path(self) -> np.ndarray:
        """Boolean mask ``(n,)`` of nodes on some input (node 0) -> output (node n-1) path.

        Follows edges in both directions of the matrix, so it is meaningful even for a
        matrix that is not upper triangular.
        """
        adj = self.adjacency.astype(bool)
        n = self.num_nodes
        return _reach(adj, 0, n) & _reach(adj.T, n - 1, n)

    def prune(self) -> Cell:
        """Drop every node that is not on an input-to-output path (NAS-Bench-101's rule).

        Returns ``self`` when nothing is dropped; a new cell (``arch`` cleared, since it no
        longer is the benchmark's exact matrix) otherwise.

        Raises:
            InvalidArchitectureError: ``"unreachable"``: the output cannot be reached from the
                input at all, so no network remains.
        """
        keep = self.on_path()
        if self.num_nodes < 2 or not keep[0] or not keep[-1]:
            raise InvalidArchitectureError(
                "unreachable: the output node cannot be reached from the input node; "
                "no network remains after pruning"
            )
        if keep.all():
            return self
        idx = np.flatnonzero(keep)
        return Cell(self.adjacency[np.ix_(idx, idx)], tuple(self.ops[i] for i in idx))

    # ----------------------------------------------------------------- hashing

    def hash(self) -> str:
        """Canonical, isomorphism-invariant hash (hex SHA-256; see the module docstring).

        Two cells hash equal iff they are isomorphic as op-labelled DAGs (node order and
        ``arch`` are ignored). The cell is hashed as given: hash ``cell.prune()`` for
        NAS-Bench-101's "same network" identity.
        """
        if not self._hash:
            self._hash.append(canonical_hash(self.adjacency, self.ops))
        return self._hash[0]

    def is_isomorphic(self, other: Cell) -> bool:
        """Whether ``other`` is the same labelled DAG up to node order."""
        return self.hash() == other.hash()

    def canonical(self) -> Cell:
        """This cell with its nodes in a canonical topological order.

        Isomorphic cells get equal canonical forms (``a.canonical() == b.canonical()`` for
        equal ``arch``): nodes are taken in topological order, ties broken by their rank in
        the canonical labelling, so the matrix stays strictly upper triangular (input first,
        output last for a valid cell). In the rare fallback case of
        :data:`MAX_CANONICAL_LEAVES` the cell is returned unchanged.
        """
        order = canonical_order(self.adjacency, self.ops)
        if order is None:
            return self
        rank = {v: r for r, v in enumerate(order)}
        indeg = self.adjacency.sum(axis=0).astype(int)
        ready = sorted((v for v in range(self.num_nodes) if indeg[v] == 0), key=rank.get)
        topo: list[int] = []
        while ready:
            v = ready.pop(0)
            topo.append(v)
            for w in np.flatnonzero(self.adjacency[v]):
                indeg[w] -= 1
                if indeg[w] == 0:
                    ready.append(int(w))
            ready.sort(key=rank.get)
        if len(topo) < self.num_nodes:  # a cyclic matrix: keep the labelling order
            topo = order
        idx = np.asarray(topo)
        return Cell(self.adjacency[np.ix_(idx, idx)], tuple(self.ops[i] for i in idx),
                    self.arch)


def _reach(adj: np.ndarray, start: int, n: int) -> np.ndarray:
    seen = np.zeros(n, dtype=bool)
    if n == 0:
        return seen
    stack = [start]
    seen[start] = True
    while stack:
        v = stack.pop()
        for w in np.flatnonzero(adj[v]):
            if not seen[w]:
                seen[w] = True
                stack.append(int(w))
    return seen


# --------------------------------------------------------------------------- canonical form


def _rank(keys: Sequence[Any]) -> list[int]:
    """Map each key to the rank of its value among the distinct keys (a canonical relabel)."""
    order = {k: r for r, k in enumerate(sorted(set(keys)))}
    return [order[k] for k in keys]


def _refine(colors: list[int], preds: list[list[int]], succs: list[list[int]]) -> list[int]:
    """Colour refinement to the stable partition: colour <- (colour, in-colours, out-colours)."""
    num = len(set(colors))
    while True:
        keys = [
            (colors[v], tuple(sorted(colors[u] for u in preds[v])),
             tuple(sorted(colors[w] for w in succs[v])))
            for v in range(len(colors))
        ]
        new = _rank(keys)
        new_num = len(set(new))
        # Refinement only splits classes, and ranks of (old colour, ...) keys keep the old
        # order, so an unchanged class count means a stable partition.
        if new_num == num:
            return new
        colors, num = new, new_num


def _certificate(order: Sequence[int], adj: np.ndarray, ops: Sequence[str]) -> tuple:
    idx = np.asarray(order, dtype=np.intp)
    sub = adj[np.ix_(idx, idx)] if len(idx) else adj
    return (tuple(ops[v] for v in order), sub.tobytes())


class _TooManyLeaves(Exception):
    pass


def _search(colors, preds, succs, adj, ops, twin_key, budget):
    """Individualization-refinement: smallest certificate over the search tree's leaves."""
    n = len(colors)
    counts: dict[int, int] = {}
    for c in colors:
        counts[c] = counts.get(c, 0) + 1
    tied = [c for c, k in counts.items() if k > 1]
    if not tied:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooManyLeaves
        order = sorted(range(n), key=colors.__getitem__)
        return _certificate(order, adj, ops), order
    target = min(tied)  # the smallest tied colour: a choice that does not depend on labels
    cell = [v for v in range(n) if colors[v] == target]
    best = None
    tried: set = set()
    for v in cell:
        # Twins (same in/out neighbour sets; ops are equal within a colour class) are
        # exchanged by an automorphism, so their subtrees give the same minimum.
        if twin_key[v] in tried:
            continue
        tried.add(twin_key[v])
        # Individualize v: it keeps colour `target`, its tied peers move just above it.
        keys = [(c, 0 if (c != target or u == v) else 1) for u, c in enumerate(colors)]
        result = _search(_refine(_rank(keys), preds, succs), preds, succs, adj, ops, twin_key,
                         budget)
        if best is None or result[0] < best[0]:
            best = result
    return best


def _structure(adj: np.ndarray, ops: Sequence[str]):
    n = adj.shape[0]
    preds = [np.flatnonzero(adj[:, v]).tolist() for v in range(n)]
    succs = [np.flatnonzero(adj[v]).tolist() for v in range(n)]
    colors = _refine(_rank(list(ops)), preds, succs)
    twin_key = [(tuple(preds[v]), tuple(succs[v])) for v in range(n)]
    return preds, succs, colors, twin_key


def canonical_order(adjacency: np.ndarray, ops: Sequence[str]) -> list[int] | None:
    """Node order of the canonical form, or ``None`` when the search exceeds its budget."""
    adj = np.asarray(adjacency, dtype=np.uint8)
    preds, succs, colors, twin_key = _structure(adj, ops)
    try:
        return _search(colors, preds, succs, adj, ops, twin_key, [MAX_CANONICAL_LEAVES])[1]
    except _TooManyLeaves:
        return None


def canonical_hash(adjacency: np.ndarray, ops: Sequence[str]) -> str:
    """Hex SHA-256 of the canonical certificate of a labelled DAG (see the module docstring)."""
    adj = np.asarray(adjacency, dtype=np.uint8)
    n = adj.shape[0]
    preds, succs, colors, twin_key = _structure(adj, ops)
    try:
        cert, _ = _search(colors, preds, succs, adj, ops, twin_key, [MAX_CANONICAL_LEAVES])
    except _TooManyLeaves:
        # The stable colouring is isomorphism-invariant; hash the colour multiset with the
        # per-colour labels and neighbourhoods.
        summary = sorted(
            (colors[v], ops[v], tuple(sorted(colors[u] for u in preds[v])),
             tuple(sorted(colors[w] for w in succs[v])))
            for v in range(n)
        )
        return "wl-" + hashlib.sha256(repr(summary).encode()).hexdigest()
    text = repr((n, cert[0])).encode() + b"|" + cert[1]
    return hashlib.sha256(text).hexdigest()


# --------------------------------------------------------------------------- validation


def validate_cell(
    cell: Cell, *, ops: Iterable[str] | None = None, max_nodes: int | None = None,
    max_edges: int | None = None,
) -> Cell:
    """Check a cell against the NAS cell rules; return it unchanged when it passes.

    Args:
        cell: the cell.
        ops: allowed interior ops (``None``: any).
        max_nodes: most nodes, input and output included (``None``: no cap).
        max_edges: most edges (``None``: no cap).

    Raises:
        InvalidArchitectureError: the message starts with the failed rule: ``"labels"``
            (input/output labels wrong or misplaced), ``"cycle"`` (an entry on or below the
            diagonal: not a DAG in topological order), ``"unknown op"``, ``"too many nodes"``,
            ``"too many edges"``, ``"unreachable"`` (a node not on an input-output path).
    """
    if not isinstance(cell, Cell):
        raise InvalidArchitectureError(f"shape: expected a Cell, got {type(cell).__name__}")
    n = cell.num_nodes
    if n < 2 or cell.ops[0] != INPUT or cell.ops[-1] != OUTPUT:
        raise InvalidArchitectureError(
            f"labels: a cell needs >= 2 nodes with ops[0] == {INPUT!r} and ops[-1] == "
            f"{OUTPUT!r}, got ops {list(cell.ops)}"
        )
    inner = cell.ops[1:-1]
    if INPUT in inner or OUTPUT in inner:
        raise InvalidArchitectureError(
            f"labels: only node 0 may be {INPUT!r} and only node n-1 {OUTPUT!r}, got ops "
            f"{list(cell.ops)}"
        )
    lower = np.tril(cell.adjacency)
    if lower.any():
        i, j = (int(x[0]) for x in np.nonzero(lower))
        raise InvalidArchitectureError(
            f"cycle: edge {i} -> {j} points backwards (adjacency must be strictly upper "
            f"triangular, i.e. a DAG with nodes in topological order)"
        )
    if ops is not None:
        allowed = tuple(ops)
        bad = sorted({op for op in inner if op not in allowed})
        if bad:
            raise InvalidArchitectureError(
                f"unknown op: {bad} not in the space's ops {list(allowed)}"
            )
    if max_nodes is not None and n > max_nodes:
        raise InvalidArchitectureError(
            f"too many nodes: {n} nodes, the space allows at most {max_nodes}"
        )
    if max_edges is not None and cell.num_edges > max_edges:
        raise InvalidArchitectureError(
            f"too many edges: {cell.num_edges} edges, the space allows at most {max_edges}"
        )
    keep = cell.on_path()
    if not keep.all():
        if not keep[-1]:
            raise InvalidArchitectureError(
                "unreachable: the output node cannot be reached from the input node"
            )
        off = np.flatnonzero(~keep).tolist()
        raise InvalidArchitectureError(
            f"unreachable: nodes {off} are not on any input -> output path (prune() drops them)"
        )
    return cell

"""Search spaces: sampling, mutation and validity for cells.

Every space is a :class:`SearchSpace` with

* ``ops``: the interior op labels it uses;
* ``sample(rng) -> Cell``: a uniformly drawn (per the space's sampler) valid cell;
* ``mutate(cell, rng) -> Cell``: a valid cell one move away, never isomorphic to ``cell``;
* ``validate(cell)`` (raises :class:`~carbide.exceptions.InvalidArchitectureError` naming the
  rule) and ``is_valid(cell) -> bool``.

``rng`` is always a ``numpy.random.Generator``; spaces hold no random state of their own, so a
strategy that owns the generator owns the whole random stream (and ``state_dict`` resume works).

Spaces (build one by name with :func:`make_space`):

* :class:`NB101Space` (``"nb101"``, ``"cell:N"``): NAS-Bench-101 cells (Ying et al. 2019):
  up to ``max_nodes`` nodes (7 in NAS-Bench-101), up to ``max_edges`` edges (9), ops
  ``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3``. ``"cell:N"`` is the same space with
  ``max_nodes = N`` (NASGEM searches 20-30 node cells) and the edge cap ``2 N - 5``: it is 9 at
  ``N = 7`` (NAS-Bench-101's published cap, the only one there is) and grows linearly, leaving
  room for ``N - 4`` edges beyond a chain (a dense cap, ``N (N - 1) / 2``, would make 30-node
  cells mostly parallel convolutions). Cells are kept pruned (every node on an input-output
  path), so a sample may have fewer than ``max_nodes`` nodes.
* :class:`NB201Space` (``"nb201"``): NAS-Bench-201 (Dong & Yang 2020), 6 edges x 5 ops.
* :class:`TableSpace`: a finite set of cells, e.g. the 500 cells of the NAS-Bench-101 subset
  (``make_space("nb101", bench=NASBench101)``) or the cells of a small NAS-Bench-201 table.

How NAS-Bench-201 candidates are represented (for strategies and the NASGEM encoder): a
candidate is a plain :class:`~carbide.nas.cell.Cell` -- the node-labelled DAG of the standard
edge-to-node conversion -- whose ``arch`` attribute holds the 6-digit NAS-Bench-201 key
(``carbide.datasets.NASBench201`` keys, digit ``i`` = op index of edge ``NB201_EDGES[i]``).
:meth:`NB201Space.to_cell` builds it from a key, arch string or op list;
:meth:`NB201Space.to_arch` maps back (reads ``arch``; a cell without one is matched by its
canonical hash to the smallest isomorphic key). Encoders read ``adjacency``/``ops``; table
evaluators read ``arch``. Likewise NAS-Bench-101 table cells carry NASLib's key string in
``arch``. Mutation of NAS-Bench-201 cells changes one edge's op (the move of the
NAS-Bench-201 REA baseline).

The edge-to-node conversion: nodes are ``input``, one node per edge op (edges in key order)
and ``output``; an op node for edge ``(to <- from)`` takes the op nodes of edges ending at
``from`` (or the input when ``from == 0``) and feeds the op nodes of edges leaving ``to`` (or
the output when ``to == 3``). ``none`` edges are dropped and nodes off every input-output path
pruned. A cell whose output is unreachable (all paths cut by ``none``) becomes the two-node
cell ``input, output`` with no edge: it is still a table entry (at chance accuracy), so
:meth:`NB201Space.validate` accepts it although :func:`~carbide.nas.cell.validate_cell`
would not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import check_int, check_real
from ..exceptions import InvalidArchitectureError, InvalidConfigError
from .cell import INPUT, OUTPUT, Cell, validate_cell

__all__ = [
    "NB101_SPACE_OPS",
    "NB201_SPACE_OPS",
    "NB101Space",
    "NB201Space",
    "SearchSpace",
    "TableSpace",
    "default_max_edges",
    "make_space",
]

#: NAS-Bench-101 interior ops.
NB101_SPACE_OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
#: NAS-Bench-201 edge ops (index = key digit), as in ``carbide.datasets.NB201_OPS``.
NB201_SPACE_OPS: tuple[str, ...] = (
    "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3",
)
_NB201_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
_NUM_EDGES = len(_NB201_EDGES)
_MAX_TRIES = 10_000


def default_max_edges(max_nodes: int) -> int:
    """Edge cap of :class:`NB101Space` for ``max_nodes`` nodes: ``max(1, 2 * max_nodes - 5)``
    (9 at NAS-Bench-101's 7 nodes; see the module docstring)."""
    return max(1, 2 * max_nodes - 5)


class SearchSpace:
    """Base class of search spaces (see the module docstring for the contract).

    Subclasses implement :meth:`sample`, :meth:`mutate` and :meth:`validate` and set ``ops``
    and ``name``.
    """

    name: str = "space"
    ops: tuple[str, ...] = ()

    def sample(self, rng: np.random.Generator) -> Cell:
        """A random valid cell."""
        raise NotImplementedError

    def mutate(self, cell: Cell, rng: np.random.Generator) -> Cell:
        """A random valid cell one move from ``cell`` and not isomorphic to it."""
        raise NotImplementedError

    def validate(self, cell: Cell) -> Cell:
        """Return ``cell`` if it belongs to the space; else raise
        :class:`~carbide.exceptions.InvalidArchitectureError` naming the failed rule."""
        raise NotImplementedError

    def is_valid(self, cell: Cell) -> bool:
        """Whether :meth:`validate` accepts ``cell``."""
        try:
            self.validate(cell)
        except InvalidArchitectureError:
            return False
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


# --------------------------------------------------------------------------- NAS-Bench-101


class NB101Space(SearchSpace):
    """NAS-Bench-101-style cells of up to ``max_nodes`` nodes and ``max_edges`` edges.

    Args:
        max_nodes: most nodes including input and output (default 7, NAS-Bench-101); at
            least 2.
        max_edges: most edges (default :func:`default_max_edges`: 9 at 7 nodes, ``2N - 5``).
        ops: interior ops (default :data:`NB101_SPACE_OPS`).

    Sampling: for ``max_nodes <= 9``, NAS-Bench-101's own sampler -- each upper-triangular
    edge with probability 1/2, uniform ops, prune, reject if the output is unreachable or the
    edge cap is exceeded (exact to the benchmark; rejection is cheap at this size). For larger
    cells that sampler would almost never meet the cap, so cells of exactly ``max_nodes``
    nodes are built directly: each node ``v >= 1`` gets one predecessor drawn uniformly from
    ``0..v-1``, each node without a successor gets one drawn from the later nodes (so every
    node is on an input-output path), then extra distinct edges are added up to an edge count
    drawn uniformly between that skeleton's and the cap. The skeleton has about
    ``1.45 (N - 1)`` edges (39-47 for ``N = 30``, 1st-99th percentile), so caps below that
    make sampling fail with :class:`~carbide.exceptions.InvalidConfigError`.

    Mutation (one move, retried until valid and not isomorphic to the parent): flip one
    upper-triangular edge, change one interior op, insert a node on an edge (when below
    ``max_nodes``), or remove an interior node joining its predecessors to its successors;
    the result is pruned. The node moves let a pruned cell grow back, which plain edge flips
    on a pruned matrix cannot.
    """

    def __init__(self, max_nodes: int = 7, max_edges: int | None = None,
                 ops: Sequence[str] = NB101_SPACE_OPS):
        self.max_nodes = check_int("max_nodes", max_nodes, 2)
        self.max_edges = check_int(
            "max_edges", default_max_edges(max_nodes) if max_edges is None else max_edges, 1
        )
        ops = tuple(ops)
        if not ops or len(set(ops)) != len(ops) or INPUT in ops or OUTPUT in ops:
            raise InvalidConfigError(
                f"ops must be distinct interior op names (not {INPUT!r}/{OUTPUT!r}), got {ops!r}"
            )
        if self.max_edges < self.max_nodes - 1 and self.max_nodes > 9:
            raise InvalidConfigError(
                f"max_edges={self.max_edges} cannot connect {self.max_nodes} nodes (a chain "
                f"needs {self.max_nodes - 1}); raise max_edges or lower max_nodes"
            )
        self.ops = ops
        self.name = "nb101" if (max_nodes, self.max_edges) == (7, 9) else f"cell:{max_nodes}"

    def __repr__(self) -> str:
        return (f"NB101Space(max_nodes={self.max_nodes}, max_edges={self.max_edges}, "
                f"ops={self.ops!r})")

    def validate(self, cell: Cell) -> Cell:
        return validate_cell(cell, ops=self.ops, max_nodes=self.max_nodes,
                             max_edges=self.max_edges)

    def _ops(self, k: int, rng: np.random.Generator) -> tuple[str, ...]:
        return (INPUT, *(self.ops[i] for i in rng.integers(0, len(self.ops), size=k)), OUTPUT)

    def sample(self, rng: np.random.Generator) -> Cell:
        n = self.max_nodes
        if n <= 9:
            for _ in range(_MAX_TRIES):
                adj = np.triu(rng.random((n, n)) < 0.5, k=1).astype(np.uint8)
                ops = self._ops(n - 2, rng)
                try:
                    cell = Cell(adj, ops).prune()
                except InvalidArchitectureError:
                    continue
                if cell.num_edges <= self.max_edges:
                    return cell
            raise InvalidConfigError(  # pragma: no cover - only for absurd caps
                f"could not sample a cell with <= {self.max_edges} edges in {_MAX_TRIES} tries"
            )
        for _ in range(_MAX_TRIES):
            adj = np.zeros((n, n), dtype=np.uint8)
            for v in range(1, n):
                adj[int(rng.integers(0, v)), v] = 1
            for v in range(n - 1):
                if not adj[v].any():
                    adj[v, int(rng.integers(v + 1, n))] = 1
            have = int(adj.sum())
            if have > self.max_edges:
                continue  # the skeleton alone can exceed a tight cap (up to 2n - 3 edges)
            free = np.flatnonzero(np.triu(1 - adj, k=1).reshape(-1))
            extra = int(rng.integers(0, self.max_edges - have + 1))
            if extra:
                adj.reshape(-1)[rng.choice(free, size=min(extra, free.size), replace=False)] = 1
            return Cell(adj, self._ops(n - 2, rng))
        raise InvalidConfigError(  # pragma: no cover - only for caps near n - 1
            f"could not sample a {n}-node cell with <= {self.max_edges} edges in "
            f"{_MAX_TRIES} tries; raise max_edges"
        )

    def mutate(self, cell: Cell, rng: np.random.Generator) -> Cell:
        self.validate(cell)
        parent = cell.hash()
        for _ in range(_MAX_TRIES):
            child = self._move(cell, rng)
            if child is None:
                continue
            try:
                child = child.prune()
            except InvalidArchitectureError:
                continue
            if self.is_valid(child) and child.hash() != parent:
                return child
        raise InvalidArchitectureError(  # pragma: no cover - a space with a single cell
            f"unreachable: no valid mutation of {cell!r} found in {_MAX_TRIES} tries"
        )

    def _move(self, cell: Cell, rng: np.random.Generator) -> Cell | None:
        n = cell.num_nodes
        adj = np.array(cell.adjacency)
        ops = list(cell.ops)
        moves = ["edge"]
        if n > 2 and (len(self.ops) > 1):
            moves.append("op")
        if n < self.max_nodes and cell.num_edges:
            moves.append("insert")
        if n > 2:
            moves.append("remove")
        move = moves[int(rng.integers(0, len(moves)))]
        if move == "edge":
            i, j = np.triu_indices(n, k=1)
            k = int(rng.integers(0, i.size))
            adj[i[k], j[k]] ^= 1
            return Cell(adj, ops)
        if move == "op":
            v = int(rng.integers(1, n - 1))
            choices = [op for op in self.ops if op != ops[v]]
            ops[v] = choices[int(rng.integers(0, len(choices)))]
            return Cell(adj, ops)
        if move == "insert":
            src, dst = np.nonzero(adj)
            k = int(rng.integers(0, src.size))
            i, j = int(src[k]), int(dst[k])
            # The new node goes right after i, so the matrix stays upper triangular.
            new = np.zeros((n + 1, n + 1), dtype=np.uint8)
            keep = [v if v <= i else v + 1 for v in range(n)]
            new[np.ix_(keep, keep)] = adj
            new[keep[i], keep[j]] = 0
            new[i + 1, keep[j]] = 1
            new[keep[i], i + 1] = 1
            op = self.ops[int(rng.integers(0, len(self.ops)))]
            return Cell(new, [*ops[: i + 1], op, *ops[i + 1:]])
        v = int(rng.integers(1, n - 1))
        preds, succs = np.flatnonzero(adj[:, v]), np.flatnonzero(adj[v])
        for p in preds:
            adj[p, succs] = 1
        keep = [u for u in range(n) if u != v]
        return Cell(adj[np.ix_(keep, keep)], [ops[u] for u in keep])


# --------------------------------------------------------------------------- NAS-Bench-201


def _nb201_key(arch: Any) -> str:
    from ..datasets.nasbench import _nb201_key as key

    try:
        return key(arch)
    except InvalidConfigError as exc:
        raise InvalidArchitectureError(f"unknown op: {exc}") from None


class NB201Space(SearchSpace):
    """NAS-Bench-201: 4 nodes, 6 edges, each one of 5 ops (15,625 cells).

    Candidates are :class:`Cell` objects with ``arch`` set to the 6-digit key (see the module
    docstring). Sampling draws the 6 ops uniformly (every key is a table entry, including the
    ones whose output is cut off); mutation changes the op of one uniformly drawn edge to one
    of the 4 others; a mutation to an isomorphic DAG with a different key is allowed, since it
    is a different table entry.
    """

    name = "nb201"
    ops = NB201_SPACE_OPS[1:]  # the op labels that appear as nodes ('none' edges are dropped)
    edge_ops = NB201_SPACE_OPS
    edges = _NB201_EDGES

    # canonical hash -> smallest key; built on the first to_arch of a bare cell, shared.
    _index: dict[str, str] | None = None

    def __repr__(self) -> str:
        return "NB201Space()"

    @staticmethod
    def to_cell(arch: Any) -> Cell:
        """The node-labelled DAG of an architecture (6-digit key, arch string or 6 ops).

        Returns:
            A :class:`Cell` with ``arch`` = the 6-digit key: nodes ``input``, the kept edge
            ops in key order, ``output`` (at most 8 nodes).

        Raises:
            InvalidArchitectureError: ``"unknown op"``: a malformed architecture.
        """
        key = _nb201_key(arch)
        names = [NB201_SPACE_OPS[int(d)] for d in key]
        m = len(_NB201_EDGES)
        n = m + 2
        adj = np.zeros((n, n), dtype=np.uint8)
        for a, (to_a, from_a) in enumerate(_NB201_EDGES):
            if from_a == 0:
                adj[0, a + 1] = 1
            if to_a == 3:
                adj[a + 1, n - 1] = 1
            for b, (_, from_b) in enumerate(_NB201_EDGES):
                if from_b == to_a:
                    adj[a + 1, b + 1] = 1
        keep = [0, *(a + 1 for a in range(m) if names[a] != "none"), n - 1]
        ops = (INPUT, *names, OUTPUT)
        sub = Cell(adj[np.ix_(keep, keep)], tuple(ops[v] for v in keep))
        try:
            pruned = sub.prune()
        except InvalidArchitectureError:
            return Cell(np.zeros((2, 2), dtype=np.uint8), (INPUT, OUTPUT), key)
        return Cell(pruned.adjacency, pruned.ops, key)

    def to_arch(self, cell: Cell) -> str:
        """The 6-digit key of a candidate: its ``arch``, or, for a cell without one, the
        smallest key whose DAG is isomorphic to it.

        Raises:
            InvalidArchitectureError: ``"unknown op"``: no NAS-Bench-201 cell has that DAG.
        """
        if cell.arch is not None:
            return _nb201_key(cell.arch)
        if NB201Space._index is None:
            index: dict[str, str] = {}
            for i in range(5 ** _NUM_EDGES):
                key = "".join(str((i // 5 ** p) % 5) for p in reversed(range(_NUM_EDGES)))
                index.setdefault(self.to_cell(key).hash(), key)
            NB201Space._index = index
        try:
            return NB201Space._index[cell.hash()]
        except KeyError:
            raise InvalidArchitectureError(
                f"unknown op: {cell!r} is not the DAG of any NAS-Bench-201 architecture"
            ) from None

    def validate(self, cell: Cell) -> Cell:
        if not isinstance(cell, Cell) or cell.arch is None:
            raise InvalidArchitectureError(
                "labels: a NAS-Bench-201 candidate is a Cell with arch set to its 6-digit key; "
                "build it with NB201Space.to_cell(arch)"
            )
        expected = self.to_cell(cell.arch)
        if expected != cell:
            raise InvalidArchitectureError(
                f"labels: the DAG of {cell!r} is not the conversion of its arch "
                f"{cell.arch!r}; build it with NB201Space.to_cell(arch)"
            )
        return cell

    def sample(self, rng: np.random.Generator) -> Cell:
        digits = rng.integers(0, len(NB201_SPACE_OPS), size=len(_NB201_EDGES))
        return self.to_cell("".join(str(int(d)) for d in digits))

    def mutate(self, cell: Cell, rng: np.random.Generator) -> Cell:
        key = list(self.to_arch(self.validate(cell)))
        e = int(rng.integers(0, len(key)))
        choices = [str(d) for d in range(len(NB201_SPACE_OPS)) if str(d) != key[e]]
        key[e] = choices[int(rng.integers(0, len(choices)))]
        return self.to_cell("".join(key))


# --------------------------------------------------------------------------- finite tables


class TableSpace(SearchSpace):
    """A finite set of cells (a tabular benchmark's), searched by table-local moves.

    Args:
        cells: the candidates (distinct; typically with ``arch`` set to the table key).
        features: optional ``(len(cells), d)`` array that :meth:`mutate` measures Hamming
            distance on; default: the network each cell denotes -- pruned, in canonical node
            order (:meth:`Cell.canonical`), its adjacency padded to the largest node count
            (extra nodes inserted before the output) followed by its op labels -- so the
            distance counts differing edges plus differing ops between the networks, not
            between the stored matrices (499 of NAS-Bench-101's 500 subset matrices hold dead
            nodes that would add noise: with the stored matrices regularized evolution did
            worse than random search on the subset, see ``benchmarks/nas_strategies.py``).
        name: label for reports.

        neighbors: how many nearest cells a mutation may move to (default 10).
        explore: probability that a mutation jumps to a uniformly drawn other table cell
            instead (default 0.1).

    Sampling is uniform over the table. Mutation returns a uniformly drawn cell among the
    ``neighbors`` table cells nearest to ``cell`` (ties at the boundary all included; cells
    at distance 0, i.e. the same network, excluded): the table-local analogue of a small
    edit, so regularized evolution works on a subset benchmark. A finite table has local
    traps a free space has not: once every near neighbour of the population is known, a
    purely local move only repeats known cells (free in :func:`~carbide.nas.search.run_search`
    but never new), so with probability ``explore`` the move is a uniform jump. The defaults
    were chosen on the NAS-Bench-101 subset with ``benchmarks/nas_strategies.py`` (REA,
    population 20, sample 5, 150 queries, 10 seeds): ``explore=0`` left 5-6 of 10 runs stuck
    before their budget; ``neighbors`` 5-20 with ``explore`` 0.05-0.2 all reached mean regret
    <= 0.15 points. A cell outside the table moves to its nearest table cells.
    """

    def __init__(self, cells: Sequence[Cell], *, features: np.ndarray | None = None,
                 name: str = "table", neighbors: int = 10, explore: float = 0.1):
        self.neighbors = check_int("neighbors", neighbors, 1)
        self.explore = check_real("explore", explore, 0.0, 1.0)
        cells = list(cells)
        if not cells:
            raise InvalidConfigError("TableSpace needs at least one cell, got none")
        if len(set(cells)) != len(cells):
            raise InvalidConfigError("TableSpace cells must be distinct; got repeats")
        self.cells = cells
        self.name = name
        self._pos = {c: i for i, c in enumerate(cells)}
        self.ops = tuple(sorted({op for c in cells for op in c.ops[1:-1]}))
        self._width = max(_network(c).num_nodes for c in cells)
        self._vocab = {op: i for i, op in enumerate(sorted({op for c in cells for op in c.ops}))}
        self._default_features = features is None
        if features is None:
            features = np.stack([self._features(c) for c in cells])
        features = np.asarray(features)
        if features.ndim != 2 or features.shape[0] != len(cells):
            raise InvalidConfigError(
                f"features must have shape (len(cells)={len(cells)}, d), got {features.shape}"
            )
        self.features = features

    def __len__(self) -> int:
        return len(self.cells)

    def __repr__(self) -> str:
        return f"TableSpace({len(self)} cells, name={self.name!r})"

    def _features(self, cell: Cell) -> np.ndarray:
        cell = _network(cell)
        n, w = cell.num_nodes, self._width
        if n > w:
            raise InvalidArchitectureError(
                f"too many nodes: {cell!r} has {n} nodes after pruning, the cells of table "
                f"{self.name!r} at most {w}"
            )
        pos = [*range(n - 1), w - 1]  # pad before the output so the output lines up
        adj = np.zeros((w, w), dtype=np.int64)
        adj[np.ix_(pos, pos)] = cell.adjacency
        labels = [""] * w
        for v, p in enumerate(pos):
            labels[p] = cell.ops[v]
        codes = np.array([self._vocab.get(label, -1) for label in labels], dtype=np.int64)
        return np.concatenate([adj[np.triu_indices(w, k=1)], codes])

    @classmethod
    def from_nb101(cls, bench: Any, **kwargs: Any) -> TableSpace:
        """The cells of a :class:`carbide.datasets.NASBench101` table (``arch`` = NASLib key,
        matrices as stored, i.e. not pruned); ``kwargs`` go to the constructor."""
        cells = []
        for adjacency, ops, _ in bench:
            codes = [bench.ops.index(op) for op in ops]
            key = str(tuple(int(v) for v in (*np.asarray(adjacency).reshape(-1), *codes)))
            cells.append(Cell(np.asarray(adjacency, dtype=np.uint8), tuple(ops), key))
        return cls(cells, **{"name": "nb101", **kwargs})

    @classmethod
    def from_nb201(cls, bench: Any, **kwargs: Any) -> TableSpace:
        """The cells of a :class:`carbide.datasets.NASBench201` table (e.g. a small fixture),
        with distance = number of differing edge ops between keys; ``kwargs`` go to the
        constructor."""
        keys = list(bench)
        cells = [NB201Space.to_cell(k) for k in keys]
        features = np.array([[int(d) for d in k] for k in keys], dtype=np.int64)
        return cls(cells, **{"features": features, "name": "nb201", **kwargs})

    def index(self, cell: Cell) -> int:
        """Position of ``cell`` in the table (exact match, ``arch`` included)."""
        try:
            return self._pos[cell]
        except KeyError:
            raise InvalidArchitectureError(
                f"unknown op: {cell!r} is not one of the {len(self)} cells of {self.name!r}"
            ) from None

    def validate(self, cell: Cell) -> Cell:
        self.index(cell)
        return cell

    def sample(self, rng: np.random.Generator) -> Cell:
        return self.cells[int(rng.integers(0, len(self.cells)))]

    def mutate(self, cell: Cell, rng: np.random.Generator) -> Cell:
        if len(self.cells) < 2:
            raise InvalidArchitectureError(
                f"unreachable: table {self.name!r} has one cell, nothing to mutate to"
            )
        if cell in self._pos:
            feat = self.features[self._pos[cell]]
        elif self._default_features:
            feat = self._features(cell)
        else:
            raise InvalidArchitectureError(
                f"unknown op: {cell!r} is not in table {self.name!r} (custom features cannot "
                f"place it)"
            )
        if self.explore and rng.random() < self.explore:
            others = [i for i, c in enumerate(self.cells) if c != cell]
            return self.cells[others[int(rng.integers(0, len(others)))]]
        dist = (self.features != feat).sum(axis=1)
        dist[dist == 0] = np.iinfo(dist.dtype).max  # never the cell itself
        k = min(self.neighbors, len(self.cells) - 1)
        cutoff = np.partition(dist, k - 1)[k - 1]
        nearest = np.flatnonzero(dist <= cutoff)
        return self.cells[int(nearest[int(rng.integers(0, nearest.size))])]


def _network(cell: Cell) -> Cell:
    """The network a cell denotes: pruned, canonical order (itself if the output is cut)."""
    try:
        return cell.prune().canonical()
    except InvalidArchitectureError:
        return cell


# --------------------------------------------------------------------------- factory


def make_space(spec: str, *, bench: Any = None) -> SearchSpace:
    """Build a search space by name.

    Args:
        spec: ``"nb201"``, ``"nb101"`` or ``"cell:N"`` (NAS-Bench-101 ops, up to ``N`` nodes,
            ``N >= 3``, edge cap :func:`default_max_edges`).
        bench: optional loaded table. With ``"nb101"`` and a
            :class:`~carbide.datasets.NASBench101`, the space is the table's cells
            (:meth:`TableSpace.from_nb101`; the 500-cell subset cannot answer arbitrary
            cells). With ``"nb201"`` and a :class:`~carbide.datasets.NASBench201` holding
            fewer than all 15,625 cells (a fixture), it is :meth:`TableSpace.from_nb201`.

    Raises:
        InvalidConfigError: an unknown ``spec`` (the message lists the valid ones).
    """
    text = str(spec).strip().lower()
    if text == "nb201":
        if bench is not None and len(bench) < 5 ** _NUM_EDGES:
            return TableSpace.from_nb201(bench)
        return NB201Space()
    if text == "nb101":
        if bench is not None:
            return TableSpace.from_nb101(bench)
        return NB101Space()
    if text.startswith("cell:"):
        try:
            n = int(text[5:])
        except ValueError:
            n = -1
        if n < 3:
            raise InvalidConfigError(
                f"bad space {spec!r}: 'cell:N' needs an integer N >= 3 (e.g. 'cell:30'); "
                f"the spaces are 'nb201', 'nb101' and 'cell:N'"
            )
        return NB101Space(max_nodes=n)
    raise InvalidConfigError(
        f"unknown search space {spec!r}; choose 'nb201', 'nb101' or 'cell:N' (N >= 3 nodes)"
    )


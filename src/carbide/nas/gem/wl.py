"""Weisfeiler-Lehman subtree kernel over labelled directed graphs (pure functions).

NASGEM (Cheng et al., AAAI 2021, arXiv 2007.04452) supervises its graph encoder with the
Weisfeiler-Lehman (WL) subtree kernel (Shervashidze et al., JMLR 2011): two cells are similar
when they share many labelled subtrees. This module computes that kernel on plain
``(adjacency, labels)`` pairs or on any object with ``adjacency`` and ``ops`` attributes (such
as :class:`carbide.nas.cell.Cell`).

Refinement: the label of node ``v`` at iteration ``t + 1`` is the pair (its label at ``t``,
the sorted multiset of its neighbours' labels at ``t``), compressed to a new integer. The
feature vector of a graph counts every label of iterations ``0..h``; the kernel is the dot
product of those counts (the WL kernel with a vertex-histogram base kernel), optionally
normalized to ``k(a, b) / sqrt(k(a, a) k(b, b))`` in ``[0, 1]``.

Direction (``direction=``): a cell is a DAG from its input node to its output node, where
``adjacency[i, j] = 1`` means ``i`` feeds ``j``.

* ``"in"`` (default): neighbours are the in-neighbours (the nodes feeding ``v``), so the
  label after ``t`` steps names the depth-``t`` computation that produces ``v``'s tensor. We
  choose it because a node's output is a function of what flows into it, not of what it feeds.
* ``"out"``: neighbours are the out-neighbours (grakel's convention for a directed adjacency
  matrix: its WL reads the edge dictionary of ``v``, the nodes ``v`` points to).
* ``"undirected"``: both (the adjacency is symmetrized); grakel on a symmetric matrix.

Written here rather than called from grakel because the search scores tens of thousands of
cells in one call and needs the feature vectors themselves (sparse counts) for the encoder's
targets; ``tests/nas/gem/test_wl.py`` holds it equal to grakel's
``WeisfeilerLehman(n_iter=h, base_graph_kernel=VertexHistogram)`` (both count refinement
steps and sum the histograms of iterations ``0..h``; grakel needs ``h >= 1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import scipy.sparse

__all__ = ["DIRECTIONS", "as_graph", "wl_features", "wl_kernel", "wl_labels"]

#: Valid values of the ``direction`` argument.
DIRECTIONS = ("in", "out", "undirected")


def as_graph(graph: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    """Normalize a graph to ``(adjacency uint8 (n, n), labels tuple of n str)``.

    Accepts a pair ``(adjacency, labels)`` or an object with ``adjacency`` and ``ops``
    attributes (a :class:`carbide.nas.cell.Cell`).

    Raises:
        InvalidConfigError: the adjacency is not square, is not 0/1, or its size differs from
            the number of labels.
    """
    import numpy as np

    if hasattr(graph, "adjacency") and hasattr(graph, "ops"):
        adjacency, labels = graph.adjacency, graph.ops
    else:
        try:
            adjacency, labels = graph
        except (TypeError, ValueError):
            raise InvalidConfigError(
                f"a graph must be an (adjacency, labels) pair or have .adjacency and .ops, got "
                f"{type(graph).__name__}"
            ) from None
    adj = np.asarray(adjacency)
    labels = tuple(str(x) for x in labels)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or adj.shape[0] != len(labels):
        raise InvalidConfigError(
            f"adjacency of shape {adj.shape} does not fit {len(labels)} labels; expected a "
            f"square (n, n) 0/1 matrix with n labels"
        )
    if adj.size and not np.isin(adj, (0, 1)).all():
        raise InvalidConfigError("adjacency entries must be 0 or 1")
    return adj.astype(np.uint8, copy=False), labels


def _neighbours(adj: np.ndarray, direction: str) -> list[list[int]]:
    import numpy as np

    if direction == "in":
        m = adj.T
    elif direction == "out":
        m = adj
    else:
        m = adj | adj.T
    return [np.flatnonzero(row).tolist() for row in m]


def _check(h: object, direction: object) -> int:
    if isinstance(h, bool) or not isinstance(h, int) or h < 0:
        raise InvalidConfigError(f"h (WL iterations) must be an integer >= 0, got {h!r}")
    if direction not in DIRECTIONS:
        raise InvalidConfigError(f"direction must be one of {list(DIRECTIONS)}, got {direction!r}")
    return h


def wl_labels(
    graphs: Sequence[Any], h: int = 3, *, direction: str = "in"
) -> list[list[list[int]]]:
    """WL label refinement of several graphs with one shared compression table.

    Args:
        graphs: graphs as accepted by :func:`as_graph`.
        h: refinement steps (0 keeps the initial labels only).
        direction: ``"in"``, ``"out"`` or ``"undirected"`` (see the module docstring).

    Returns:
        ``labels[g][t][v]``: the integer label of node ``v`` of graph ``g`` after ``t``
        steps, ``t = 0..h``. Equal integers mean equal labelled subtrees of depth ``t``
        (across graphs and iterations: each iteration draws fresh integers).
    """
    h = _check(h, direction)
    parsed = [as_graph(g) for g in graphs]
    table: dict[Any, int] = {}
    out: list[list[list[int]]] = []
    for adj, labels in parsed:
        nbrs = _neighbours(adj, direction)
        current = [table.setdefault(("0", lab), len(table)) for lab in labels]
        per_iter = [current]
        for t in range(1, h + 1):
            current = [
                table.setdefault(
                    (t, current[v], tuple(sorted(current[u] for u in nbrs[v]))), len(table)
                )
                for v in range(len(current))
            ]
            per_iter.append(current)
        out.append(per_iter)
    return out


def wl_features(
    graphs: Sequence[Any], h: int = 3, *, direction: str = "in"
) -> scipy.sparse.csr_matrix:
    """WL subtree feature vectors: counts of every label of iterations ``0..h``.

    Args:
        graphs: ``G`` graphs as accepted by :func:`as_graph`.
        h: refinement steps.
        direction: ``"in"``, ``"out"`` or ``"undirected"`` (see the module docstring).

    Returns:
        A ``(G, L)`` float64 CSR matrix, ``L`` the number of distinct labels in ``graphs``;
        ``X @ X.T`` is the (unnormalized) WL subtree kernel.
    """
    import numpy as np

    from ..._imports import optional_import

    sparse = optional_import("scipy.sparse", "nas", purpose="the WL kernel")
    labels = wl_labels(graphs, h, direction=direction)
    rows, cols = [], []
    for g, per_iter in enumerate(labels):
        for lab in per_iter:
            cols.extend(lab)
            rows.extend([g] * len(lab))
    width = 1 + max(cols, default=-1)
    data = np.ones(len(cols), dtype=np.float64)
    x = sparse.csr_matrix((data, (rows, cols)), shape=(len(labels), width))
    x.sum_duplicates()
    return x


def wl_kernel(
    graphs_a: Sequence[Any],
    graphs_b: Sequence[Any] | None = None,
    h: int = 3,
    *,
    normalize: bool = True,
    direction: str = "in",
) -> np.ndarray:
    """The WL subtree kernel matrix.

    Args:
        graphs_a: ``A`` graphs (see :func:`as_graph`).
        graphs_b: ``B`` graphs; ``None`` means ``graphs_a`` (the square Gram matrix).
        h: refinement steps (default 3).
        normalize: divide by ``sqrt(k(a, a) k(b, b))`` so that values lie in ``[0, 1]`` and
            the diagonal is 1 (default ``True``).
        direction: ``"in"`` (default), ``"out"`` or ``"undirected"``.

    Returns:
        ``(A, B)`` float64 array.
    """
    import numpy as np

    a = list(graphs_a)
    b = a if graphs_b is None else list(graphs_b)
    x = wl_features(a if graphs_b is None else a + b, h, direction=direction)
    xa, xb = x[: len(a)], (x if graphs_b is None else x[len(a):])
    k = np.asarray((xa @ xb.T).todense(), dtype=np.float64)
    if normalize:
        da = np.sqrt(np.asarray(xa.multiply(xa).sum(axis=1)).ravel())
        db = np.sqrt(np.asarray(xb.multiply(xb).sum(axis=1)).ravel())
        with np.errstate(divide="ignore", invalid="ignore"):
            k = k / np.outer(da, db)
        k = np.nan_to_num(k, nan=0.0)
    return k

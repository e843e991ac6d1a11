"""The encodings and predictors NASGEM's embedding is measured against.

NASGEM (arXiv 2007.04452) argues that a WL-kernel-trained graph embedding is a better input to
an accuracy predictor than continuous encodings of a cell. Besides the flattened adjacency +
op one-hot encoding (:func:`~carbide.nas.gem.encoder.onehot_encoding`), the predictor study of
the reproduction compares it with:

* :func:`path_encoding`: the path encoding of BANANAS (White, Neiswanger & Savani, AAAI 2021,
  arXiv 1910.11858): one indicator per possible sequence of ops along an input-to-output path.
  On NAS-Bench-101 (3 ops, paths of 0..5 interior nodes) it has 1 + 3 + ... + 3^5 = 364
  features, BANANAS' figure; on NAS-Bench-201 (4 ops once ``none`` edges are dropped, paths
  of 1..3 edges) 4 + 16 + 64 = 84 plus the empty path.
* :class:`GCNPredictor`: a graph convolutional network trained end to end on accuracy, after
  the neural predictor of Wen et al. (ECCV 2020, arXiv 1912.00848): one-hot op node features,
  graph convolutions over the normalized adjacency in both directions (what feeds a node and
  what it feeds, averaged), mean pooling over the nodes, a linear head; one net (or an
  ensemble), trained full batch with Adam on mean squared error of the standardized target.
  Plain torch with the dense padded batches of :func:`~carbide.nas.gem.encoder.batch_graphs`
  (cells have at most a few tens of nodes; torch_geometric's sparse scatter is slower here
  and not needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..._validate import check_int, check_real
from ...exceptions import CarbideError, InvalidConfigError
from .wl import as_graph

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["GCNConfig", "GCNPredictor", "input_output_paths", "path_encoding"]


def input_output_paths(graph: Any) -> list[tuple[str, ...]]:
    """Op sequences of the interior nodes along every path from node 0 to node ``n - 1``.

    Args:
        graph: an ``(adjacency, labels)`` pair or a cell (node 0 the input, the last node the
            output, nodes in topological order).

    Returns:
        One tuple of op names per path (``()`` for a direct input-output edge), in DFS order.
    """
    import numpy as np

    adj, labels = as_graph(graph)
    n = len(labels)
    if n < 2:
        return []
    succ = [np.flatnonzero(adj[v]).tolist() for v in range(n)]
    out: list[tuple[str, ...]] = []
    stack: list[tuple[int, tuple[str, ...]]] = [(0, ())]
    while stack:
        v, seq = stack.pop()
        for u in reversed(succ[v]):
            if u == n - 1:
                out.append(seq)
            else:  # a DAG: every path ends, no visited set needed
                stack.append((u, (*seq, labels[u])))
    return out


def path_encoding(graphs: Sequence[Any], ops: Sequence[str],
                  max_length: int | None = None) -> np.ndarray:
    """The BANANAS path encoding (White et al., AAAI 2021): paths present in each cell.

    Feature ``offset(L) + index(seq)`` is 1 when the cell has an input-to-output path whose
    interior ops read ``seq`` (``L = len(seq)`` ops from ``ops``, ``index`` the base-``len(ops)``
    number of the sequence, ``offset(L) = sum_{l < L} len(ops)^l``).

    Args:
        graphs: ``G`` cells.
        ops: the interior op vocabulary (``input``/``output`` excluded), e.g. a space's ``ops``.
        max_length: longest path kept, in interior nodes (default: the longest path in
            ``graphs``; pass the space's value to encode separate batches alike).

    Returns:
        ``(G, sum_{l=0..max_length} len(ops)^l)`` float64 0/1 array.

    Raises:
        InvalidConfigError: an interior op outside ``ops``, a path longer than
            ``max_length``, or an empty ``ops``.
    """
    import numpy as np

    ops = tuple(ops)
    if not ops:
        raise InvalidConfigError("path_encoding needs a non-empty op vocabulary")
    index = {op: i for i, op in enumerate(ops)}
    paths = [input_output_paths(g) for g in graphs]
    longest = max((len(p) for ps in paths for p in ps), default=0)
    if max_length is None:
        max_length = longest
    check_int("max_length", max_length, 0)
    if longest > max_length:
        raise InvalidConfigError(
            f"a cell has an input-output path of {longest} interior nodes, more than "
            f"max_length={max_length}; raise max_length"
        )
    k = len(ops)
    offsets = np.cumsum([0] + [k ** L for L in range(max_length + 1)])
    x = np.zeros((len(paths), int(offsets[-1])), dtype=np.float64)
    for g, ps in enumerate(paths):
        for seq in ps:
            code = 0
            for op in seq:
                try:
                    code = code * k + index[op]
                except KeyError:
                    raise InvalidConfigError(
                        f"cell {g} has op {op!r} on a path, not in the vocabulary {list(ops)}"
                    ) from None
            x[g, offsets[len(seq)] + code] = 1.0
    return x


@dataclass(frozen=True)
class GCNConfig:
    """Settings of :class:`GCNPredictor` (defaults after Wen et al., ECCV 2020, scaled to CPU).

    Attributes:
        hidden: width of every graph convolution (default 64).
        layers: graph convolutions (default 3).
        ensemble: nets averaged, differing in initialization (default 1: Wen et al. train
            one).
        epochs: full-batch Adam steps (default 300).
        lr: learning rate (default 3e-3).
        weight_decay: Adam weight decay (default 1e-4).
    """

    hidden: int = 64
    layers: int = 3
    ensemble: int = 1
    epochs: int = 300
    lr: float = 3e-3
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        check_int("hidden", self.hidden, 1)
        check_int("layers", self.layers, 1)
        check_int("ensemble", self.ensemble, 1)
        check_int("epochs", self.epochs, 1)
        check_real("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_real("weight_decay", self.weight_decay, 0.0, 10.0)


def _gcn_module(num_ops: int, cfg: GCNConfig):
    import torch
    from torch import nn

    class GCN(nn.Module):
        """Bidirectional dense GCN with mean pooling and a linear head."""

        def __init__(self) -> None:
            super().__init__()
            dims = [num_ops] + [cfg.hidden] * cfg.layers
            pairs = list(zip(dims[:-1], dims[1:], strict=True))
            self.fwd = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
            self.bwd = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
            self.head = nn.Linear(cfg.hidden, 1)

        def forward(self, x: torch.Tensor, adj: torch.Tensor, mask: torch.Tensor):
            eye = torch.diag_embed(mask)
            a_in = adj.transpose(1, 2) + eye  # row v: the nodes feeding v, and v
            a_out = adj + eye  # row v: the nodes v feeds, and v
            a_in = a_in / a_in.sum(-1, keepdim=True).clamp_min(1.0)
            a_out = a_out / a_out.sum(-1, keepdim=True).clamp_min(1.0)
            m = mask.unsqueeze(-1)
            h = x * m
            for f, b in zip(self.fwd, self.bwd, strict=True):
                h = torch.relu(0.5 * (a_in @ f(h) + a_out @ b(h))) * m
            pooled = h.sum(1) / mask.sum(1, keepdim=True).clamp_min(1.0)
            return self.head(pooled).squeeze(-1)

    return GCN()


class GCNPredictor:
    """Accuracy predictor trained end to end on cells (estimator style; see the module
    docstring, after Wen et al., ECCV 2020).

    Args:
        ops: node op vocabulary including ``input``/``output`` (one-hot order).
        config: :class:`GCNConfig` (defaults when ``None``).
        seed: seeds every member's initialization (default 0).
    """

    def __init__(self, ops: Sequence[str], config: GCNConfig | None = None, *,
                 seed: int = 0) -> None:
        self.ops = tuple(ops)
        if not self.ops:
            raise InvalidConfigError("GCNPredictor needs at least one op in its vocabulary")
        self.config = config or GCNConfig()
        self.seed = check_int("seed", seed, 0)
        self._members: list | None = None

    def fit(self, graphs: Sequence[Any], accuracy: Sequence[float]) -> GCNPredictor:
        """Train on ``N >= 2`` cells and their accuracies (any unit)."""
        import numpy as np
        import torch

        from .encoder import batch_graphs

        graphs = list(graphs)
        y = np.asarray(accuracy, dtype=np.float64)
        if y.shape != (len(graphs),) or len(graphs) < 2 or not np.isfinite(y).all():
            raise InvalidConfigError(
                f"fit needs N >= 2 cells and N finite accuracies; got {len(graphs)} cells and "
                f"accuracies of shape {y.shape}"
            )
        self._max_nodes = max(as_graph(g)[0].shape[0] for g in graphs)
        x, adj, mask = batch_graphs(graphs, self.ops)
        self._y_mean, self._y_std = y.mean(), y.std() + 1e-9
        yt = torch.as_tensor((y - self._y_mean) / self._y_std, dtype=torch.float32)
        cfg = self.config
        members = []
        with torch.random.fork_rng(devices=[]):
            for m in range(cfg.ensemble):
                torch.manual_seed(self.seed * 1000 + m)
                net = _gcn_module(len(self.ops), cfg)
                opt = torch.optim.Adam(net.parameters(), lr=cfg.lr,
                                       weight_decay=cfg.weight_decay)
                for _ in range(cfg.epochs):
                    loss = torch.mean((net(x, adj, mask) - yt) ** 2)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                net.eval()
                members.append(net)
        self._members = members
        return self

    def predict(self, graphs: Sequence[Any], *, batch_size: int = 4096) -> np.ndarray:
        """Predicted accuracy ``(M,)`` (ensemble mean, in the unit of the training target).

        Raises:
            CarbideError: the predictor is not fitted.
        """
        import numpy as np
        import torch

        from .encoder import batch_graphs

        if self._members is None:
            raise CarbideError("GCNPredictor is not fitted; call fit(cells, acc)")
        graphs = list(graphs)
        out = []
        with torch.no_grad():
            for i in range(0, len(graphs), batch_size):
                x, adj, mask = batch_graphs(graphs[i:i + batch_size], self.ops)
                preds = torch.stack([net(x, adj, mask) for net in self._members])
                out.append(preds.mean(0).double().numpy())
        pred = np.concatenate(out) if out else np.zeros(0)
        return pred * self._y_std + self._y_mean

"""Graph encoder trained on WL-kernel similarity, the one-hot baseline and embedding quality.

NASGEM (arXiv 2007.04452) embeds a cell with a graph neural network trained so that the
similarity of two embeddings estimates the similarity of the two graphs measured by the
Weisfeiler-Lehman kernel. The agreed reconstruction (no official code exists):

* :class:`GINEncoder`: a GIN (Xu et al., ICLR 2019) over the cell's DAG. Node features are
  one-hot ops. Each layer aggregates in-neighbours and out-neighbours separately (a DAG's
  direction carries meaning: what feeds a node differs from what it feeds) and applies an MLP
  to ``[(1 + eps) h_v + sum_in h_u, sum_out h_u]``. The embedding concatenates the pooled
  (sum or mean over nodes) representation of every layer, the input one-hots included, and
  projects it linearly; summing over nodes makes it invariant to node order, so isomorphic
  cells embed identically.
* :func:`train_encoder`: pairs of unlabelled cells; loss ``MSE(cos(e_a, e_b), k_WL(a, b))`` with
  the normalized WL subtree kernel of :mod:`.wl` as target. No accuracy is seen.
* :func:`onehot_encoding`: the plain continuous encoding NASGEM argues against (flattened upper
  triangle of the adjacency plus op one-hots, padded to a fixed number of nodes).
* :func:`embedding_similarity_quality`: Spearman and Kendall correlation between the cosine
  similarity of embeddings and the WL kernel over the pairs of a held-out set of cells.

Written in plain torch with dense, padded, batched adjacency (cells have at most a few tens of
nodes) rather than torch_geometric's scatter-based ``GINConv``: on CPU the dense batched form
is faster for thousands of tiny graphs, and it needs no optional graph dependency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from .wl import DIRECTIONS, as_graph, wl_kernel

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

__all__ = [
    "EncoderConfig",
    "GINEncoder",
    "GraphEncoder",
    "batch_graphs",
    "embedding_similarity_quality",
    "onehot_encoding",
    "op_vocabulary",
    "train_encoder",
]


def op_vocabulary(graphs: Sequence[Any]) -> tuple[str, ...]:
    """The sorted set of node labels (ops) that occur in ``graphs``."""
    return tuple(sorted({lab for g in graphs for lab in as_graph(g)[1]}))


def _op_index(ops: Sequence[str]) -> dict[str, int]:
    return {op: i for i, op in enumerate(ops)}


def batch_graphs(
    graphs: Sequence[Any], ops: Sequence[str], max_nodes: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad and stack graphs for :class:`GINEncoder`.

    Args:
        graphs: ``B`` graphs (``(adjacency, labels)`` pairs or cells).
        ops: the op vocabulary (one-hot order).
        max_nodes: pad to this many nodes (default: the largest graph).

    Returns:
        ``x`` float32 ``(B, N, len(ops))`` one-hot ops, ``adj`` float32 ``(B, N, N)``
        (``adj[b, u, v] = 1``: ``u`` feeds ``v``), ``mask`` float32 ``(B, N)`` (1 on real nodes).

    Raises:
        InvalidConfigError: a label outside ``ops``, or a graph larger than ``max_nodes``.
    """
    import numpy as np
    import torch

    index = _op_index(ops)
    parsed = [as_graph(g) for g in graphs]
    n = max((len(lab) for _, lab in parsed), default=1) if max_nodes is None else max_nodes
    x = np.zeros((len(parsed), n, len(ops)), np.float32)
    adj = np.zeros((len(parsed), n, n), np.float32)
    mask = np.zeros((len(parsed), n), np.float32)
    for b, (a, labels) in enumerate(parsed):
        k = len(labels)
        if k > n:
            raise InvalidConfigError(
                f"graph {b} has {k} nodes, more than the encoder's max_nodes={n}"
            )
        try:
            x[b, np.arange(k), [index[lab] for lab in labels]] = 1.0
        except KeyError as exc:
            raise InvalidConfigError(
                f"graph {b} has op {exc.args[0]!r}, not in the encoder's vocabulary {list(ops)}"
            ) from None
        adj[b, :k, :k] = a
        mask[b, :k] = 1.0
    return torch.from_numpy(x), torch.from_numpy(adj), torch.from_numpy(mask)


@dataclass(frozen=True)
class EncoderConfig:
    """Encoder architecture and training settings.

    Attributes:
        hidden: width of every GIN layer (default 64).
        layers: GIN layers (default 3; match the WL depth ``h``).
        emb_dim: embedding size (default 32).
        pooling: ``"sum"`` (default; mirrors the WL histogram counts) or ``"mean"``.
        h: WL refinement steps of the target kernel (default 3).
        direction: WL neighbour direction of the target kernel (default ``"in"``).
        steps: optimizer steps (default 600).
        batch_size: cells per step; every pair among them is a training pair (default 64).
        lr: Adam learning rate (default 2e-3).
        weight_decay: Adam weight decay (default 0).
    """

    hidden: int = 64
    layers: int = 3
    emb_dim: int = 32
    pooling: str = "sum"
    h: int = 3
    direction: str = "in"
    steps: int = 600
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        check_int("hidden", self.hidden, 1)
        check_int("layers", self.layers, 1)
        check_int("emb_dim", self.emb_dim, 1)
        check_int("h", self.h, 0)
        check_int("steps", self.steps, 0)
        check_int("batch_size", self.batch_size, 2)
        check_real("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_real("weight_decay", self.weight_decay, 0.0, 10.0)
        if self.pooling not in ("sum", "mean"):
            raise InvalidConfigError(f"pooling must be 'sum' or 'mean', got {self.pooling!r}")
        if self.direction not in DIRECTIONS:
            raise InvalidConfigError(
                f"direction must be one of {list(DIRECTIONS)}, got {self.direction!r}"
            )


def _gin_module(num_ops: int, cfg: EncoderConfig):
    import torch
    from torch import nn

    class GINEncoderModule(nn.Module):
        """GIN over padded batched DAGs; see :class:`GINEncoder`."""

        def __init__(self) -> None:
            super().__init__()
            self.pooling = cfg.pooling
            self.eps = nn.Parameter(torch.zeros(cfg.layers))
            dims = [num_ops] + [cfg.hidden] * cfg.layers
            self.mlps = nn.ModuleList(
                nn.Sequential(
                    nn.Linear(2 * dims[i], cfg.hidden), nn.ReLU(),
                    nn.Linear(cfg.hidden, cfg.hidden), nn.ReLU(),
                )
                for i in range(cfg.layers)
            )
            self.project = nn.Linear(sum(dims), cfg.emb_dim)

        def forward(self, x: torch.Tensor, adj: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            m = mask.unsqueeze(-1)
            h = x * m
            pooled = [self._pool(h, mask)]
            adj_t = adj.transpose(1, 2)
            for i, mlp in enumerate(self.mlps):
                incoming = adj_t @ h  # row v: sum of the nodes that feed v
                outgoing = adj @ h  # row v: sum of the nodes v feeds
                h = mlp(torch.cat([(1 + self.eps[i]) * h + incoming, outgoing], dim=-1)) * m
                pooled.append(self._pool(h, mask))
            return self.project(torch.cat(pooled, dim=-1))

        def _pool(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            s = h.sum(dim=1)
            if self.pooling == "mean":
                s = s / mask.sum(dim=1, keepdim=True).clamp_min(1.0)
            return s

    return GINEncoderModule()


class GINEncoder:
    """A graph encoder: cells -> embeddings (the NASGEM encoder, agreed reconstruction).

    Args:
        ops: op vocabulary (node labels; one-hot order), e.g. ``op_vocabulary(graphs)``.
        config: :class:`EncoderConfig` (architecture; training settings are used by
            :func:`train_encoder`).
        seed: seed of the weight initialization (default 0).

    Attributes:
        module: the ``torch.nn.Module`` (``forward(x, adj, mask) -> (B, emb_dim)``).
        history: training losses per logged step (filled by :func:`train_encoder`).
    """

    def __init__(
        self, ops: Sequence[str], config: EncoderConfig | None = None, *, seed: int = 0
    ) -> None:
        import torch

        self.ops = tuple(ops)
        if not self.ops:
            raise InvalidConfigError("the encoder needs at least one op in its vocabulary")
        self.config = config or EncoderConfig()
        self.seed = check_int("seed", seed, 0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.module = _gin_module(len(self.ops), self.config)
        self.module.eval()
        self.history: list[float] = []

    def embed(self, graphs: Sequence[Any], *, batch_size: int = 1024) -> np.ndarray:
        """Embeddings ``(len(graphs), emb_dim)`` float64 (no gradient)."""
        import numpy as np
        import torch

        graphs = list(graphs)
        out = []
        self.module.eval()
        with torch.no_grad():
            for i in range(0, len(graphs), batch_size):
                x, adj, mask = batch_graphs(graphs[i:i + batch_size], self.ops)
                out.append(self.module(x, adj, mask).double().numpy())
        if not out:
            return np.zeros((0, self.config.emb_dim))
        return np.concatenate(out)

    def state_dict(self) -> dict[str, Any]:
        """Weights (as nested lists), ops, config and loss history: JSON-able."""
        weights = {k: v.tolist() for k, v in self.module.state_dict().items()}
        return {"ops": list(self.ops), "config": asdict(self.config), "seed": self.seed,
                "weights": weights, "history": list(self.history)}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> GINEncoder:
        """Rebuild an encoder saved by :meth:`state_dict`."""
        enc = cls(state["ops"], EncoderConfig(**state["config"]), seed=state["seed"])
        import torch

        enc.module.load_state_dict(
            {k: torch.tensor(v, dtype=torch.float32) for k, v in state["weights"].items()}
        )
        enc.history = list(state.get("history", []))
        return enc


#: The encoder class (alias, for readers looking for a generic name).
GraphEncoder = GINEncoder


def train_encoder(
    graphs: Sequence[Any],
    ops: Sequence[str] | None = None,
    config: EncoderConfig | None = None,
    *,
    seed: int = 0,
    kernel: np.ndarray | None = None,
    show_progress: bool = True,
) -> GINEncoder:
    """Train a :class:`GINEncoder` so that embedding cosine regresses the normalized WL kernel.

    Each step draws ``batch_size`` cells; every pair ``(a, b)`` among them contributes
    ``(cos(e_a, e_b) - k_WL(a, b))^2`` to the loss. Unsupervised: only graphs, no accuracy.

    Args:
        graphs: ``G >= 2`` training cells (``(adjacency, labels)`` pairs or cells).
        ops: op vocabulary (default: :func:`op_vocabulary` of ``graphs``; give the space's
            full vocabulary so that unseen ops still encode).
        config: :class:`EncoderConfig` (default settings when ``None``).
        seed: seeds initialization and batch sampling (default 0).
        kernel: precomputed ``(G, G)`` normalized WL kernel of ``graphs`` (default: computed
            with ``config.h`` and ``config.direction``).
        show_progress: a rich progress bar when stderr is a terminal (default ``True``).

    Returns:
        The trained encoder (eval mode); ``encoder.history`` holds the loss every 10 steps.
    """
    import numpy as np
    import torch

    from ...results import progress

    cfg = config or EncoderConfig()
    graphs = list(graphs)
    if len(graphs) < 2:
        raise InvalidConfigError(f"train_encoder needs at least 2 graphs, got {len(graphs)}")
    ops = tuple(ops) if ops is not None else op_vocabulary(graphs)
    enc = GINEncoder(ops, cfg, seed=seed)
    if kernel is None:
        kernel = wl_kernel(graphs, h=cfg.h, direction=cfg.direction)
    target_all = torch.as_tensor(np.asarray(kernel), dtype=torch.float32)
    if target_all.shape != (len(graphs), len(graphs)):
        raise InvalidConfigError(
            f"kernel has shape {tuple(target_all.shape)}, expected ({len(graphs)}, {len(graphs)})"
        )
    x_all, adj_all, mask_all = batch_graphs(graphs, ops)
    gen = torch.Generator().manual_seed(seed)
    bsz = min(cfg.batch_size, len(graphs))
    iu = torch.triu_indices(bsz, bsz, offset=1)
    opt = torch.optim.Adam(enc.module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    enc.module.train()
    with progress(transient=True) as bar:
        task = bar.add_task("NASGEM encoder (WL similarity)", total=cfg.steps,
                            visible=show_progress)
        for step in range(cfg.steps):
            idx = torch.randperm(len(graphs), generator=gen)[:bsz]
            emb = enc.module(x_all[idx], adj_all[idx], mask_all[idx])
            unit = torch.nn.functional.normalize(emb, dim=1, eps=1e-8)
            cos = unit @ unit.T
            target = target_all[idx][:, idx]
            loss = torch.mean((cos[iu[0], iu[1]] - target[iu[0], iu[1]]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % 10 == 0 or step == cfg.steps - 1:
                enc.history.append(float(loss.detach()))
            bar.advance(task)
    enc.module.eval()
    return enc


def onehot_encoding(
    graphs: Sequence[Any], ops: Sequence[str], max_nodes: int | None = None
) -> np.ndarray:
    """The plain adjacency + ops encoding (the baseline NASGEM compares against).

    Args:
        graphs: ``G`` graphs.
        ops: op vocabulary (one-hot order).
        max_nodes: pad every cell to this many nodes (default: the largest graph).

    Returns:
        ``(G, N (N - 1) / 2 + N len(ops))`` float64: the strict upper triangle of the padded
        adjacency (row-major), then the one-hot op of each padded node position.
    """
    import numpy as np

    x, adj, _ = batch_graphs(graphs, ops, max_nodes)
    n = adj.shape[1]
    iu = np.triu_indices(n, k=1)
    a = adj.numpy()[:, iu[0], iu[1]]
    return np.concatenate([a, x.numpy().reshape(len(a), -1)], axis=1).astype(np.float64)


def _cosine(emb: np.ndarray) -> np.ndarray:
    import numpy as np

    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    unit = emb / np.where(norm > 0, norm, 1.0)
    return unit @ unit.T


def embedding_similarity_quality(
    embeddings: np.ndarray,
    graphs: Sequence[Any] | None = None,
    *,
    kernel: np.ndarray | None = None,
    h: int = 3,
    direction: str = "in",
    max_pairs: int | None = 20000,
    seed: int = 0,
) -> dict[str, float]:
    """How well embedding cosine similarity ranks pairs like the normalized WL kernel does.

    Use it on cells the encoder was **not** trained on (held-out pairs).

    Args:
        embeddings: ``(G, D)`` embeddings of ``graphs``.
        graphs: the ``G`` graphs (needed unless ``kernel`` is given).
        kernel: their ``(G, G)`` normalized WL kernel (computed from ``graphs`` when ``None``).
        h, direction: WL settings when the kernel is computed.
        max_pairs: use a random subset of this many pairs ``i < j`` (``None``: all).
        seed: seed of that subset.

    Returns:
        ``{"spearman", "kendall", "pairs"}`` (scipy.stats ``spearmanr`` and ``kendalltau``).
    """
    import numpy as np

    from ..._imports import optional_import

    stats = optional_import("scipy.stats", "nas", purpose="embedding quality correlations")
    emb = np.asarray(embeddings, dtype=np.float64)
    if kernel is None:
        if graphs is None:
            raise InvalidConfigError("give the graphs or their WL kernel")
        kernel = wl_kernel(list(graphs), h=h, direction=direction)
    kernel = np.asarray(kernel, dtype=np.float64)
    g = emb.shape[0]
    if g < 3 or kernel.shape != (g, g):
        raise InvalidConfigError(
            f"need at least 3 embeddings and a matching (G, G) kernel; got {emb.shape} and "
            f"{kernel.shape}"
        )
    iu = np.triu_indices(g, k=1)
    if max_pairs is not None and len(iu[0]) > max_pairs:
        pick = np.random.default_rng(seed).choice(len(iu[0]), size=max_pairs, replace=False)
        iu = (iu[0][pick], iu[1][pick])
    cos = _cosine(emb)[iu]
    k = kernel[iu]
    rho = stats.spearmanr(cos, k).statistic
    tau = stats.kendalltau(cos, k).statistic
    return {
        "spearman": float(rho) if math.isfinite(rho) else 0.0,
        "kendall": float(tau) if math.isfinite(tau) else 0.0,
        "pairs": int(len(k)),
    }

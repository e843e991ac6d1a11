"""Mini-batch GraphSAGE training that reads input features through a feature store.

BiFeat (Ma et al., "BiFeat: Supercharge GNN Training via Graph Feature Quantization",
arXiv 2207.14696) speeds up sampling-based GNN training by shrinking the input features that every
mini-batch gathers and moves to the compute device. This module is the training loop of that
experiment: per batch it samples a subgraph of the seed nodes on the CPU, gathers the subgraph's
features through ``features.gather(n_id, device)`` (a dense fp32 matrix, or the quantized store
that dequantizes on the device), and runs GraphSAGE on the device. Epoch time is split into
sampling, feature gathering and compute, the three parts the paper's analysis separates.

``features`` may be any object with ``.shape -> (N, D)`` and
``.gather(index: LongTensor, device=None) -> float32 (len(index), D)`` (e.g. ``DenseFeatures`` or
``QuantizedFeatures``), or a plain float tensor ``(N, D)`` (wrapped in ``DenseFeatures``,
see :func:`as_feature_source`); ``data.x`` is never read.
"""

from __future__ import annotations

import contextlib
import copy
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

import torch
import torch.nn.functional as F

from ..._imports import optional_import
from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from .sampler import CSRGraph, NeighborSampler, NodeBatches, _expand, check_fanouts

if TYPE_CHECKING:  # pragma: no cover
    from torch_geometric.data import Data

__all__ = [
    "FeatureSource",
    "as_feature_source",
    "GraphSAGE",
    "TrainConfig",
    "TrainResult",
    "layerwise_inference",
    "train_node_classifier",
]


class FeatureSource(Protocol):
    """What the training loop needs from a feature store (``DenseFeatures`` has it)."""

    @property
    def shape(self) -> tuple[int, int]: ...

    def gather(self, index: torch.Tensor, device: Any = None) -> torch.Tensor: ...


class GraphSAGE(torch.nn.Module):
    """GraphSAGE (Hamilton et al., 2017) with mean aggregation, the model BiFeat trains.

    ``num_layers`` ``SAGEConv`` layers; ReLU and dropout between layers, none after the last.

    Args:
        in_channels: input feature size ``D``.
        hidden_channels: hidden size (default used by :class:`TrainConfig`: 128).
        out_channels: number of classes ``C``.
        num_layers: number of layers, >= 1 (default 3).
        dropout: dropout probability between layers (default 0.5).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int = 3,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        nn = optional_import("torch_geometric.nn", "graph", purpose="GraphSAGE")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise InvalidConfigError(f"num_layers must be an integer >= 1, got {num_layers!r}")
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = torch.nn.ModuleList(
            nn.SAGEConv(sizes[i], sizes[i + 1], aggr="mean") for i in range(num_layers)
        )
        self.dropout = float(dropout)

    @property
    def num_layers(self) -> int:
        return len(self.convs)

    def layer(self, i: int, x: Any, edge_index: torch.Tensor) -> torch.Tensor:
        """Layer ``i`` including its activation; ``x`` is a tensor or a bipartite
        ``(x_src, x_dst)`` pair."""
        out = self.convs[i](x, edge_index)
        if i < self.num_layers - 1:
            out = F.relu(out)
            out = F.dropout(out, p=self.dropout, training=self.training)
        return out

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        num_sampled_nodes: Sequence[int] | None = None,
        num_sampled_edges: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Logits ``(M, C)`` for the ``M`` nodes of ``x`` (float ``(M, D)``).

        With a sampled subgraph's ``num_sampled_nodes`` / ``num_sampled_edges`` (hop-ordered
        nodes and edges, as :class:`~.sampler.NeighborSampler` and PyG produce), layer ``i``
        only computes the nodes later layers still need (PyG's ``trim_to_layer``) and the result
        has one row per node within ``L - 1`` hops; the seeds' rows come first either way.
        """
        trim = num_sampled_nodes is not None and num_sampled_edges is not None
        if trim and (len(num_sampled_nodes) != self.num_layers + 1
                     or len(num_sampled_edges) != self.num_layers):
            trim = False
        for i in range(self.num_layers):
            if trim:
                hops_left = self.num_layers - i  # hops of input this layer still reads
                n_in = sum(num_sampled_nodes[: hops_left + 1])
                n_out = sum(num_sampled_nodes[:hops_left])
                e_in = sum(num_sampled_edges[:hops_left])
                x = x[:n_in]
                edge_index = edge_index[:, :e_in]
                x = self.layer(i, (x, x[:n_out]), edge_index)
            else:
                x = self.layer(i, x, edge_index)
        return x


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train_node_classifier` (validated on construction).

    Attributes:
        fanouts: neighbours sampled per hop, the seeds' hop first (PyG ``num_neighbors``
            order); ``-1`` = all. ``len(fanouts)`` is the number of GraphSAGE layers.
            Default ``(15, 10, 5)``: the paper's "5,10,15", which its DGL code lists from the
            input layer, i.e. 15 neighbours per seed, 10 per 1-hop node, 5 at the outer hop.
        num_layers: optional check: if given it must equal ``len(fanouts)`` (default ``None``).
        hidden: hidden channels, >= 1 (default 128).
        epochs: >= 1 (default 20).
        batch_size: seed nodes per mini-batch, >= 1 (default 256).
        lr: Adam learning rate, > 0 (default 3e-3).
        weight_decay: Adam weight decay, >= 0 (default 5e-4).
        dropout: in ``[0, 1)`` (default 0.5).
        seed: >= 0 (default 0); seeds model init, dropout, batch order and sampling.
        device: torch device string for the model and the gathered features, e.g. ``"cpu"``,
            ``"cuda"``, ``"cuda:1"`` (default ``"cpu"``); sampling always runs on the CPU.
        eval_every: evaluate on the validation nodes every this many epochs and after the last
            one, keeping the best-validation model for the test (default 1); 0 = only after
            the last epoch (timing runs).
        eval_batch_size: destination nodes per chunk of the full-neighbourhood layer-wise
            evaluation, >= 1 (default 65536); bounds evaluation memory on big graphs.
    """

    fanouts: tuple[int, ...] = (15, 10, 5)
    num_layers: int | None = None
    hidden: int = 128
    epochs: int = 20
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 5e-4
    dropout: float = 0.5
    seed: int = 0
    device: str = "cpu"
    eval_every: int = 1
    eval_batch_size: int = 65536

    def __post_init__(self) -> None:
        self.fanouts = check_fanouts(self.fanouts)
        if self.num_layers is not None:
            check_int("num_layers", self.num_layers, 1)
            if self.num_layers != len(self.fanouts):
                raise InvalidConfigError(
                    f"num_layers={self.num_layers} but fanouts={self.fanouts} has "
                    f"{len(self.fanouts)} entries; give one fanout per layer"
                )
        check_int("hidden", self.hidden, 1)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_real("lr", self.lr, 0.0, math.inf, hi_open=True, lo_open=True)
        check_real("weight_decay", self.weight_decay, 0.0, math.inf, hi_open=True,
                    lo_open=False)
        check_real("dropout", self.dropout, 0.0, 1.0, hi_open=True, lo_open=False)
        check_int("seed", self.seed, 0)
        check_int("eval_every", self.eval_every, 0)
        check_int("eval_batch_size", self.eval_batch_size, 1)
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise InvalidConfigError(
                f"device {self.device!r} is not a torch device; use e.g. 'cpu', 'cuda', "
                f"'cuda:0'"
            ) from exc

    @property
    def depth(self) -> int:
        """Number of GraphSAGE layers, ``len(fanouts)``."""
        return len(self.fanouts)


@dataclass
class TrainResult:
    """What :func:`train_node_classifier` measured.

    Attributes:
        test_acc: test accuracy of the best-validation model.
        val_acc: best validation accuracy.
        best_epoch: 1-based epoch of ``val_acc``.
        epoch_time_s: median training wall time per epoch (sampling + gathering + compute;
            evaluation excluded).
        history: one dict per epoch: ``epoch``, ``loss`` (mean over seeds), ``val_acc``
            (``None`` when not evaluated), ``epoch_s``, ``sample_s``, ``gather_s``,
            ``compute_s``, ``eval_s``, ``batches``, ``nodes_per_batch`` (mean sampled nodes).
            ``sample_s`` includes copying the edge index to the device, ``gather_s`` the
            feature gather and its copy (and dequantization) on the device, ``compute_s``
            forward, backward and the optimizer step.
        timings: totals over all epochs: ``sample_s``, ``gather_s``, ``compute_s``,
            ``train_s`` (their wall-clock sum with loop overhead), ``eval_s``.
        model: the best-validation model (on the training device, eval mode); not serialized.
    """

    test_acc: float
    val_acc: float
    best_epoch: int
    epoch_time_s: float
    history: list[dict[str, Any]]
    timings: dict[str, float]
    model: torch.nn.Module | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of everything but the model."""
        return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self)
                if f.name != "model"}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _resolve_device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidConfigError(
            f"device {name!r} was requested but CUDA is not available here; use 'cpu'"
        )
    return device


@torch.no_grad()
def layerwise_inference(
    model: GraphSAGE,
    graph: CSRGraph,
    features: FeatureSource | torch.Tensor,
    targets: torch.Tensor | None = None,
    *,
    device: str | torch.device = "cpu",
    chunk_size: int = 65536,
) -> torch.Tensor:
    """Full-neighbourhood GraphSAGE outputs, one layer at a time over node chunks.

    Each layer runs over every node (the last only over ``targets``) in chunks of
    ``chunk_size`` destination nodes, reading the chunk's complete in-neighbourhoods, so memory
    is bounded by the chunk's edges plus one ``(N, hidden)`` float32 CPU buffer per layer, and
    the results equal a full-graph forward pass. Layer 0 reads ``features.gather``, so a
    quantized store is evaluated on the features it serves.

    Args:
        model: a :class:`GraphSAGE` (set to eval mode here), on ``device``.
        graph: in-neighbour CSR of the whole graph.
        features: ``N`` rows: a :class:`FeatureSource` or a plain float tensor ``(N, D)``
            (served as :class:`DenseFeatures`).
        targets: int64 node ids whose outputs are wanted (default: all nodes).
        device: where the layers run.
        chunk_size: destination nodes per chunk, >= 1.

    Returns:
        float32 ``(len(targets), C)`` logits on the CPU.
    """
    check_int("chunk_size", chunk_size, 1)
    features = as_feature_source(features)
    device = torch.device(device)
    model.eval()
    n = graph.num_nodes
    if targets is None:
        targets = torch.arange(n)
    all_nodes = torch.arange(n)
    h: torch.Tensor | None = None  # previous layer's outputs for every node, on the CPU

    def rows(nodes: torch.Tensor) -> torch.Tensor:
        if h is None:
            return features.gather(nodes, device=device)
        return h.index_select(0, nodes).to(device, non_blocking=True)

    for i in range(model.num_layers):
        last = i == model.num_layers - 1
        dst_nodes = targets if last else all_nodes
        out_dim = model.convs[i].out_channels
        out = torch.empty(dst_nodes.numel(), out_dim, dtype=torch.float32)
        for lo in range(0, dst_nodes.numel(), chunk_size):
            chunk = dst_nodes[lo: lo + chunk_size]
            pos, owner = _expand(graph.indptr, chunk)
            src_nodes, src_local = torch.unique(graph.indices[pos], return_inverse=True)
            edge_index = torch.stack([src_local, owner]).to(device)
            y = model.layer(i, (rows(src_nodes), rows(chunk)), edge_index)
            out[lo: lo + chunk.numel()] = y.float().cpu()
        h = out
    return h


def as_feature_source(features: Any) -> FeatureSource:
    """``features`` as a :class:`FeatureSource`: a plain float tensor ``(N, D)`` is wrapped in
    :class:`DenseFeatures` (fp32, host memory); a store (anything with ``.shape`` and
    ``.gather``) is returned as is.

    Raises:
        InvalidConfigError: neither a float tensor of shape ``(N, D)`` nor a store.
    """
    if isinstance(features, torch.Tensor):
        from ._dense import DenseFeatures

        return DenseFeatures(features)  # validates: floating, (N, D), finite
    if not hasattr(features, "gather") or not hasattr(features, "shape"):
        raise InvalidConfigError(
            f"features must be a float tensor (N, D) or have .shape and .gather(index, device) "
            f"(e.g. DenseFeatures, QuantizedFeatures), got {type(features).__name__}"
        )
    return features


def _check_data(data: Any, features: Any) -> tuple[int, torch.Tensor]:
    missing = [k for k in ("edge_index", "y", "train_mask", "val_mask", "test_mask")
               if getattr(data, k, None) is None]
    if missing:
        raise InvalidConfigError(
            f"data lacks {', '.join(missing)}; train_node_classifier needs edge_index, y, "
            "train_mask, val_mask and test_mask"
        )
    y = data.y.reshape(-1).to("cpu", torch.long)
    n = y.numel()
    if int(features.shape[0]) != n:
        raise InvalidConfigError(
            f"features have {features.shape[0]} rows but data has {n} nodes (labels)"
        )
    for k in ("train_mask", "val_mask", "test_mask"):
        m = getattr(data, k)
        if m.dtype != torch.bool or m.numel() != n:
            raise InvalidConfigError(f"{k} must be a bool tensor of {n} entries")
        if not bool(m.any()):
            raise InvalidConfigError(f"{k} selects no node")
    return n, y


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(-1) == y).float().mean()) if y.numel() else float("nan")


def train_node_classifier(
    data: Data,
    features: FeatureSource | torch.Tensor,
    config: TrainConfig | None = None,
    *,
    sampler: Any = None,
    progress: bool = True,
) -> TrainResult:
    """Train GraphSAGE for node classification with sampled mini-batches (BiFeat's protocol).

    Per batch of training seeds: sample the subgraph (CPU), ``x = features.gather(n_id,
    device)``, forward with per-layer trimming, cross entropy on the seeds' outputs, Adam
    step. Validation accuracy uses full neighbourhoods (:func:`layerwise_inference`); the
    model state with the best validation accuracy (earliest on ties) gives the test accuracy.
    On CPU two runs with the same config give identical results.

    Args:
        data: ``torch_geometric.data.Data`` with ``edge_index`` int64 ``(2, E)`` (src -> dst),
            ``y`` int64 ``(N,)`` and bool ``(N,)`` ``train_mask`` / ``val_mask`` /
            ``test_mask``. ``data.x`` is ignored.
        features: the feature store, ``N`` rows (see :class:`FeatureSource`), or a plain
            float tensor ``(N, D)`` (served as :class:`DenseFeatures`, i.e. fp32).
        config: hyper-parameters (default ``TrainConfig()``).
        sampler: optional object with ``.sample(seeds) -> (n_id, edge_index, batch_size[,
            num_sampled_nodes, num_sampled_edges])`` replacing the default
            ``NeighborSampler(graph, config.fanouts, seed=config.seed)`` (e.g. a wrapper over
            PyG's sampler when pyg-lib is installed). It must return one hop per layer.
        progress: show a progress bar over epochs (only on a terminal).

    Returns:
        A :class:`TrainResult`.

    Raises:
        InvalidConfigError: data or features are inconsistent, or the device is unavailable.
        MissingDependencyError: torch_geometric is not installed.
    """
    from ...results import progress as progress_bar
    from ...results import seed_everything

    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise InvalidConfigError(f"config must be a TrainConfig, got {type(config).__name__}")
    features = as_feature_source(features)
    n, y = _check_data(data, features)
    device = _resolve_device(config.device)
    seed_everything(config.seed)

    graph = CSRGraph.from_edge_index(data.edge_index, n)
    if sampler is None:
        sampler = NeighborSampler(graph, config.fanouts, seed=config.seed)
    elif not callable(getattr(sampler, "sample", None)):
        raise InvalidConfigError(
            f"sampler must have a .sample(seeds) method, got {type(sampler).__name__}"
        )
    train_mask, val_mask, test_mask = (
        getattr(data, k).reshape(-1).cpu() for k in ("train_mask", "val_mask", "test_mask")
    )
    batches = NodeBatches(train_mask, config.batch_size, shuffle=True, seed=config.seed)
    eval_nodes = (val_mask | test_mask).nonzero().reshape(-1)
    in_eval = torch.full((n,), -1, dtype=torch.long)
    in_eval[eval_nodes] = torch.arange(eval_nodes.numel())
    val_pos, test_pos = in_eval[val_mask], in_eval[test_mask]
    y_val, y_test = y[val_mask], y[test_mask]

    num_classes = int(y.max()) + 1
    model = GraphSAGE(
        int(features.shape[1]), config.hidden, num_classes, config.depth, config.dropout
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr,
                                 weight_decay=config.weight_decay)
    y_dev = y.to(device)

    # one untimed gather first: it compiles (or loads) the fused numba kernel of quantized
    # features, which must not count in the first epoch's gather time
    features.gather(torch.zeros(1, dtype=torch.long), device=device)
    history: list[dict[str, Any]] = []
    best = {"val": -1.0, "test": float("nan"), "epoch": 0, "state": None}
    bar = progress_bar() if progress else contextlib.nullcontext()
    with bar:
        task = bar.add_task("train GraphSAGE", total=config.epochs) if progress else None
        for epoch in range(1, config.epochs + 1):
            model.train()
            t_sample = t_gather = t_compute = 0.0
            loss_sum, seen, nodes_sum = 0.0, 0, 0
            t_epoch = time.perf_counter()
            t0 = t_epoch
            for seeds in batches:
                sub = sampler.sample(seeds)
                edge_index = sub.edge_index.to(device, non_blocking=True)
                _sync(device)
                t1 = time.perf_counter()
                x = features.gather(sub.n_id, device=device)
                _sync(device)
                t2 = time.perf_counter()
                bs = int(sub.batch_size)
                optimizer.zero_grad(set_to_none=True)
                out = model(x, edge_index, getattr(sub, "num_sampled_nodes", None),
                            getattr(sub, "num_sampled_edges", None))[:bs]
                loss = F.cross_entropy(out, y_dev[sub.n_id[:bs].to(device)])
                loss.backward()
                optimizer.step()
                loss_sum += loss.item() * bs  # .item() waits for the device
                seen += bs
                nodes_sum += int(sub.n_id.numel())
                t3 = time.perf_counter()
                t_sample += t1 - t0
                t_gather += t2 - t1
                t_compute += t3 - t2
                t0 = t3
            epoch_s = time.perf_counter() - t_epoch

            val_acc = None
            eval_s = 0.0
            due = config.eval_every and epoch % config.eval_every == 0
            if due or epoch == config.epochs:
                t_eval = time.perf_counter()
                logits = layerwise_inference(
                    model, graph, features, eval_nodes, device=device,
                    chunk_size=config.eval_batch_size,
                )
                val_acc = _accuracy(logits[val_pos], y_val)
                if val_acc > best["val"]:
                    best.update(val=val_acc, test=_accuracy(logits[test_pos], y_test),
                                epoch=epoch, state=copy.deepcopy(model.state_dict()))
                eval_s = time.perf_counter() - t_eval
            history.append({
                "epoch": epoch, "loss": loss_sum / max(seen, 1), "val_acc": val_acc,
                "epoch_s": epoch_s, "sample_s": t_sample, "gather_s": t_gather,
                "compute_s": t_compute, "eval_s": eval_s, "batches": len(batches),
                "nodes_per_batch": nodes_sum / max(len(batches), 1),
            })
            if task is not None:
                shown = "-" if val_acc is None else f"{val_acc:.3f}"
                bar.update(task, advance=1, description=(
                    f"train GraphSAGE loss {history[-1]['loss']:.3f} val {shown}"))

    model.load_state_dict(best["state"])
    model.eval()
    timings = {k: sum(h[k] for h in history) for k in ("sample_s", "gather_s", "compute_s",
                                                        "eval_s")}
    timings["train_s"] = sum(h["epoch_s"] for h in history)
    return TrainResult(
        test_acc=best["test"], val_acc=best["val"], best_epoch=best["epoch"],
        epoch_time_s=statistics.median(h["epoch_s"] for h in history), history=history,
        timings=timings, model=model,
    )

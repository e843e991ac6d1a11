"""One BiFeat training run on a Planetoid graph: the unit behind ``carbide bifeat train`` and
the reproduction."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..._validate import int_list
from ...exceptions import InvalidConfigError

__all__ = ["DATASETS", "NodeClassificationConfig", "RunConfig", "record_node_classification",
           "run_node_classification", "setting_name"]

DATASETS = ("cora", "citeseer")
_METHODS = ("none", "sq", "vq")


def setting_name(method: str, bits: int = 1, width: int = 16, codebook: int = 256,
                 paper_sq: bool = False) -> str:
    """Short label: ``fp32``, ``SQ2``, ``SQ1-paper`` (the paper's SQ), ``VQ(32,64)``."""
    if method == "none":
        return "fp32"
    if method == "sq":
        return f"SQ{bits}" + ("-paper" if paper_sq else "")
    return f"VQ({width},{codebook})"


@dataclass
class NodeClassificationConfig:
    """A BiFeat node-classification run (GraphSAGE, sampled mini-batches).

    Attributes:
        dataset: ``"cora"`` or ``"citeseer"``.
        method: ``"none"`` (fp32), ``"sq"`` or ``"vq"``.
        bits: SQ bits (1, 2, 4, 8, 16). Default 1.
        width, codebook: VQ sub-vector width and centres. Default (16, 256).
        paper_sq: SQ exactly as the paper: always a sign bit, no zero code (zeros join the
            negative side). Default ``False``: carbide's zero code and unsigned codes for
            non-negative data (see ``carbide.compression.featquant._sq``).
        fanouts: neighbours per hop, seeds' hop first (default (15, 10, 5) = the paper's
            "5,10,15" listed from the input layer), or the same as a comma-separated string.
        epochs, batch_size, hidden, lr, dropout: training (defaults 50, 64, 128, 3e-3, 0.5).
        drop_edges: fraction of undirected edges removed before training (density study).
        normalize_features: row-normalize features (divide by the row sum) first.
        seed: seeds quantization, edge dropping, model and sampling.
    """

    dataset: str = "cora"
    method: str = "sq"
    bits: int = 1
    width: int = 16
    codebook: int = 256
    paper_sq: bool = False
    fanouts: tuple[int, ...] = (15, 10, 5)
    epochs: int = 50
    batch_size: int = 64
    hidden: int = 128
    lr: float = 3e-3
    dropout: float = 0.5
    drop_edges: float = 0.0
    normalize_features: bool = False
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise InvalidConfigError(
                f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}"
            )
        if self.method not in _METHODS:
            raise InvalidConfigError(
                f"unknown method {self.method!r}; choose one of {', '.join(_METHODS)}"
            )
        if not 0.0 <= self.drop_edges < 1.0:
            raise InvalidConfigError(f"drop_edges must be in [0, 1), got {self.drop_edges!r}")
        self.fanouts = (int_list("fanouts", self.fanouts, "neighbours per hop such as 15,10,5")
                        if isinstance(self.fanouts, str) else tuple(self.fanouts))

    @property
    def setting(self) -> str:
        return setting_name(self.method, self.bits, self.width, self.codebook, self.paper_sq)


#: The former name of :class:`NodeClassificationConfig` (kept for existing scripts).
RunConfig = NodeClassificationConfig


def _drop_edges(edge_index, fraction: float, seed: int):
    import torch
    from torch_geometric.utils import to_undirected

    if fraction == 0.0:
        return edge_index
    src, dst = edge_index
    keep_pairs = edge_index[:, src < dst]  # each undirected edge once
    gen = torch.Generator().manual_seed(seed)
    kept = keep_pairs[:, torch.rand(keep_pairs.shape[1], generator=gen) >= fraction]
    return to_undirected(kept)


def run_node_classification(config: NodeClassificationConfig, root: Any = None, *,
                            progress: bool = True) -> dict[str, Any]:
    """Load the graph, build the feature store (fp32 or quantized), train, and report.

    Returns:
        A row: ``dataset, setting, seed, drop_edges, test_acc, val_acc, best_epoch,
        compression_ratio, feature_bytes, fp32_bytes, quantize_s, epoch_time_s, gather_s,
        num_edges`` plus the config's method parameters.
    """
    from ...datasets import load_planetoid
    from ._dense import DenseFeatures
    from .quantized import quantize
    from .train import TrainConfig, train_node_classifier

    data = load_planetoid(config.dataset, root)
    data.edge_index = _drop_edges(data.edge_index, config.drop_edges, config.seed)
    x = data.x
    if config.normalize_features:
        x = x / x.sum(dim=1, keepdim=True).clamp_min(1e-12)
    t0 = time.perf_counter()
    if config.method == "none":
        feats = DenseFeatures(x)
    elif config.method == "sq":
        feats = quantize(x, "sq", bits=config.bits, seed=config.seed,
                         scheme="paper" if config.paper_sq else "carbide")
    else:
        feats = quantize(x, "vq", width=config.width, codebook=config.codebook, seed=config.seed)
    quantize_s = time.perf_counter() - t0
    train_cfg = TrainConfig(
        fanouts=config.fanouts, epochs=config.epochs, batch_size=config.batch_size,
        hidden=config.hidden, lr=config.lr, dropout=config.dropout, seed=config.seed,
        device=config.device,
    )
    result = train_node_classifier(data, feats, train_cfg, progress=progress)
    return {
        "dataset": config.dataset, "setting": config.setting, "method": config.method,
        "bits": config.bits if config.method == "sq" else None,
        "width": config.width if config.method == "vq" else None,
        "codebook": config.codebook if config.method == "vq" else None,
        "seed": config.seed, "drop_edges": config.drop_edges,
        "normalize_features": config.normalize_features,
        "test_acc": result.test_acc, "val_acc": result.val_acc, "best_epoch": result.best_epoch,
        "compression_ratio": feats.compression_ratio, "feature_bytes": feats.nbytes,
        "fp32_bytes": int(x.numel() * 4), "quantize_s": quantize_s,
        "epoch_time_s": result.epoch_time_s,
        "gather_s": result.timings["gather_s"] / max(len(result.history), 1),
        "num_edges": int(data.edge_index.shape[1]),
    }


def record_node_classification(config: NodeClassificationConfig, out: Any, *,
                               root: Any = None) -> dict[str, Any]:
    """Run :func:`run_node_classification` and write the results contract into ``out``.

    Metrics: ``test_acc``, ``val_acc``, ``compression_ratio``, ``feature_bytes``,
    ``epoch_time_s``; the one row and its table in ``report.md``. Returns the results dict.
    """
    from ...results import Report, RunRecorder

    recorder = RunRecorder(out, system="bifeat", config=config)
    row = run_node_classification(config, root)
    metrics = {k: row[k] for k in ("test_acc", "val_acc", "compression_ratio", "feature_bytes",
                                   "epoch_time_s")}
    report = Report(f"BiFeat train: {config.dataset}, {config.setting}").table([row])
    return recorder.finish(metrics=metrics, rows=[row], report=report)

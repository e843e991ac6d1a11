"""Evaluators: what a search pays to learn a cell's accuracy.

* :class:`NB201Evaluator` and :class:`NB101Evaluator` look cells up in the tabular benchmarks
  of :mod:`carbide.datasets` (NAS-Bench-201, Dong & Yang 2020; the NAS-Bench-101 500-cell
  subset, Ying et al. 2019). Each new query is charged a *simulated* cost: the table's
  training time for NAS-Bench-201 (seconds, as recorded when the benchmark was built). The
  NAS-Bench-101 subset records no training time, so its evaluations carry ``cost_s=None``
  (searches there are compared by query counts).
* :class:`TrainingEvaluator` builds a real PyTorch network from any cell
  (:class:`CellNetwork`, NAS-Bench-101's macro skeleton) and trains it briefly on
  Fashion-MNIST; its cost is the measured training wall time.

Queries and caching (the contract :func:`~carbide.nas.search.run_search` relies on): every
evaluator keeps a cache keyed by :meth:`Evaluator.key` -- the benchmark key for table cells,
the canonical hash of the pruned cell for training. A repeated query returns the cached
:class:`Evaluation` and is neither counted in :attr:`Evaluator.queries` nor charged again
(:attr:`Evaluator.total_cost_s`), since a real search would look the result up too.
:meth:`Evaluator.seen` says beforehand whether a cell would be a repeat.

Accuracies are in percent (0..100) everywhere; ``params`` is a parameter count and ``flops``
/ ``macs`` are per-image counts (tables in millions are scaled to units).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from .._validate import check_int, check_real
from ..exceptions import InvalidArchitectureError, InvalidConfigError
from .cell import Cell, validate_cell

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from ..datasets import NASBench101, NASBench201

__all__ = [
    "CellNetwork",
    "Evaluation",
    "Evaluator",
    "NB101Evaluator",
    "NB201Evaluator",
    "TrainConfig",
    "TrainingEvaluator",
    "make_evaluator",
]


@dataclass
class Evaluation:
    """The result of evaluating one cell.

    Attributes:
        val_acc: validation accuracy in percent (what searches maximize).
        cost_s: seconds charged for this query (simulated for tables, measured for
            training); ``None`` when the source records no time.
        test_acc: test accuracy in percent, when the source has one.
        params: number of parameters, when known.
        flops: FLOPs per image (multiply-add = 2), when known.
        macs: multiply-accumulates per image, when known.
        extra: source-specific facts (benchmark key, per-seed values, training loss, ...).
    """

    val_acc: float
    cost_s: float | None = None
    test_acc: float | None = None
    params: float | None = None
    flops: float | None = None
    macs: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of the fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        """Inverse of :meth:`to_dict`."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Evaluator:
    """Base class: a cached, query-counting map from cells to :class:`Evaluation`.

    Subclasses implement :meth:`_evaluate` (and may override :meth:`key` and
    :meth:`optimum`). Call an evaluator (or :meth:`evaluate`) with a cell.

    Attributes:
        queries: distinct cells evaluated (cache hits excluded).
        total_cost_s: sum of the charged ``cost_s`` (``None`` costs count as 0).
    """

    name = "evaluator"

    def __init__(self) -> None:
        self._cache: dict[str, Evaluation] = {}
        self.queries = 0
        self.total_cost_s = 0.0

    def key(self, cell: Cell) -> str:
        """Cache key of ``cell`` (default: its ``arch`` if set, else its canonical hash)."""
        return cell.arch if cell.arch is not None else cell.hash()

    def seen(self, cell: Cell) -> bool:
        """Whether evaluating ``cell`` would be a (free) repeat."""
        return self.key(cell) in self._cache

    def evaluate(self, cell: Cell) -> Evaluation:
        """Evaluate ``cell``: from the cache when seen, else charged and counted."""
        key = self.key(cell)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        result = self._evaluate(cell)
        self._cache[key] = result
        self.queries += 1
        self.total_cost_s += result.cost_s or 0.0
        return result

    __call__ = evaluate

    def _evaluate(self, cell: Cell) -> Evaluation:
        raise NotImplementedError

    def optimum(self) -> float | None:
        """The best reachable ``val_acc`` (a table's best), or ``None`` when unknown."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """Counters and cache, JSON-able (so a resumed search charges the same)."""
        return {
            "queries": self.queries,
            "total_cost_s": self.total_cost_s,
            "cache": {k: v.to_dict() for k, v in self._cache.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.queries = int(state["queries"])
        self.total_cost_s = float(state["total_cost_s"])
        self._cache = {k: Evaluation.from_dict(v) for k, v in state["cache"].items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(queries={self.queries})"


# --------------------------------------------------------------------------- tables


class NB201Evaluator(Evaluator):
    """NAS-Bench-201 look-ups (CIFAR-10 validation accuracy), charged the table's train time.

    Args:
        bench: a loaded :class:`carbide.datasets.NASBench201` (the shipped table or a fixture).
        dataset: the table's dataset; only ``"cifar10"`` is shipped.
        trial: which training run answers a query: ``"mean"`` (default: the mean over the
            table's seeds, deterministic), an integer ``i`` (seed ``i`` modulo the cell's
            number of seeds), or ``"random"`` (a seed drawn per new cell with ``seed``, the
            noisy protocol of the NAS-Bench-201 paper).
        seed: seed of the ``"random"`` draws.

    Cells are :class:`~carbide.nas.cell.Cell` objects with ``arch`` set (see
    :mod:`carbide.nas.spaces`); a cell without ``arch`` is matched to the smallest isomorphic
    key. ``params`` is the table's ``model_size`` (millions) in units; ``extra`` holds
    ``arch``, ``latency`` and the per-seed accuracies.
    """

    name = "nb201"

    def __init__(self, bench: NASBench201, *, dataset: str = "cifar10",
                 trial: str | int = "mean", seed: int = 0):
        super().__init__()
        if dataset != "cifar10":
            raise InvalidConfigError(
                f"NAS-Bench-201 dataset {dataset!r} is not shipped; the table has 'cifar10'"
            )
        if not (trial in ("mean", "random") or (isinstance(trial, int)
                                                 and not isinstance(trial, bool)
                                                 and trial >= 0)):
            raise InvalidConfigError(
                f"trial must be 'mean', 'random' or a seed index >= 0, got {trial!r}"
            )
        from .spaces import NB201Space

        self.bench = bench
        self.dataset = dataset
        self.trial = trial
        self.seed = check_int("seed", seed, 0)
        self._rng = np.random.default_rng(seed)
        self._space = NB201Space()

    def key(self, cell: Cell) -> str:
        return self._space.to_arch(cell)

    def _evaluate(self, cell: Cell) -> Evaluation:
        record = self.bench.query(self.key(cell))
        accs = record["val_acc_per_seed"]
        times = record["train_time_per_seed"]
        if self.trial == "mean":
            acc, cost = record["val_acc"], record["train_time"]
        else:
            i = (int(self._rng.integers(0, len(accs))) if self.trial == "random"
                 else int(self.trial) % len(accs))
            acc, cost = accs[i], times[i]
        return Evaluation(
            val_acc=float(acc), cost_s=float(cost), params=record["model_size"] * 1e6,
            extra={"arch": record["arch"], "latency": record["latency"],
                   "val_acc_per_seed": accs},
        )

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["rng"] = self._rng.bit_generator.state  # the "random" trial draws
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if "rng" in state:
            self._rng.bit_generator.state = state["rng"]

    def optimum(self) -> float:
        """Best ``val_acc`` of the table under this trial rule (seed mean for ``"mean"``
        and ``"random"``)."""
        if self.trial in ("mean", "random"):
            return float(self.bench.best("val_acc")["val_acc"])
        best = -math.inf
        for key in self.bench:
            accs = self.bench.query(key)["val_acc_per_seed"]
            best = max(best, accs[int(self.trial) % len(accs)])
        return float(best)


class NB101Evaluator(Evaluator):
    """NAS-Bench-101 subset look-ups (NASLib's 500 CIFAR-10 cells).

    Args:
        bench: a loaded :class:`carbide.datasets.NASBench101`.

    A cell is found by its ``arch`` (NASLib's key, as :class:`~carbide.nas.spaces.TableSpace`
    sets it), else by its exact 7x7 matrix, else by isomorphism: its canonical hash against
    the table's matrices as stored and pruned (first match in file order). Evaluations carry
    ``cost_s=None`` (the subset has no training time), ``params`` and ``flops`` in units
    (the table's millions x 1e6) and the zero-cost proxies in ``extra``.

    Raises (on evaluation):
        KeyError: the cell matches no table cell.
    """

    name = "nb101"

    def __init__(self, bench: NASBench101):
        super().__init__()
        self.bench = bench
        self._index: dict[str, str] | None = None

    def _lookup(self) -> dict[str, str]:
        if self._index is None:
            from .spaces import TableSpace

            index: dict[str, str] = {}
            cells = TableSpace.from_nb101(self.bench).cells
            for cell in cells:
                index.setdefault(cell.hash(), cell.arch)
            for cell in cells:
                try:
                    index.setdefault(cell.prune().hash(), cell.arch)
                except InvalidArchitectureError:
                    continue
            self._index = index
        return self._index

    def key(self, cell: Cell) -> str:
        if cell.arch is not None and cell.arch in self.bench:
            return cell.arch
        if cell.num_nodes == 7:
            codes = [self.bench.ops.index(op) if op in self.bench.ops else -1 for op in cell.ops]
            key = str(tuple(int(v) for v in (*cell.adjacency.reshape(-1), *codes)))
            if key in self.bench:
                return key
        index = self._lookup()
        for h in (cell.hash(), _pruned_hash(cell)):
            if h is not None and h in index:
                return index[h]
        raise KeyError(
            f"{cell!r} matches no cell of {self.bench.source} ({len(self.bench)} cells), even "
            f"up to isomorphism; search the table's own cells (TableSpace.from_nb101)"
        )

    def _evaluate(self, cell: Cell) -> Evaluation:
        key = self.key(cell)
        metrics = self.bench.query(key)
        extra = {k: v for k, v in metrics.items()
                 if k not in ("val_acc", "params", "flops")}
        extra["arch"] = key
        return Evaluation(
            val_acc=float(metrics["val_acc"]), cost_s=None,
            params=metrics["params"] * 1e6 if "params" in metrics else None,
            flops=metrics["flops"] * 1e6 if "flops" in metrics else None, extra=extra,
        )

    def optimum(self) -> float:
        """Best ``val_acc`` in the table."""
        return float(self.bench.best("val_acc")["val_acc"])


def _pruned_hash(cell: Cell) -> str | None:
    try:
        return cell.prune().hash()
    except InvalidArchitectureError:
        return None


# --------------------------------------------------------------------------- networks

#: Ops :class:`CellNetwork` can build: NAS-Bench-101's and NAS-Bench-201's.
KNOWN_OPS = (
    "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3",
    "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3", "skip_connect", "none",
)


def _make_op(name: str, channels: int) -> nn.Module:
    from torch import nn

    def conv_bn_relu(k: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(channels, channels, k, padding=k // 2, bias=False),
                             nn.BatchNorm2d(channels), nn.ReLU())

    def relu_conv_bn(k: int) -> nn.Module:  # NAS-Bench-201's ReLUConvBN
        return nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, k, padding=k // 2,
                                                  bias=False), nn.BatchNorm2d(channels))

    builders: dict[str, Callable[[], nn.Module]] = {
        "conv3x3-bn-relu": lambda: conv_bn_relu(3),
        "conv1x1-bn-relu": lambda: conv_bn_relu(1),
        "maxpool3x3": lambda: nn.MaxPool2d(3, stride=1, padding=1),
        "nor_conv_3x3": lambda: relu_conv_bn(3),
        "nor_conv_1x1": lambda: relu_conv_bn(1),
        "avg_pool_3x3": lambda: nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
        "skip_connect": nn.Identity,
        "none": _Zero,
    }
    if name not in builders:
        raise InvalidArchitectureError(
            f"unknown op: {name!r} has no PyTorch module; known ops: {list(KNOWN_OPS)}"
        )
    return builders[name]()


def _Zero() -> nn.Module:  # noqa: N802 - a module factory named like the class it builds
    from torch import nn

    class Zero(nn.Module):
        """NAS-Bench-201's ``none`` op: zeros of the input's shape."""

        def forward(self, x):
            return x * 0.0

    return Zero()


def vertex_channels(cell: Cell, in_channels: int, out_channels: int) -> list[int]:
    """NAS-Bench-101's channel rule (``compute_vertex_channels``) for a pruned cell.

    The ``out_channels`` are split evenly (remainder to the first) among the interior nodes
    that feed the output, whose outputs are concatenated; every other interior node gets
    the largest count among its successors. Unlike NAS-Bench-101 each node keeps at least
    one channel, so cells with more output-feeding nodes than channels (large cells) still
    build; :class:`CellModule` then projects the wider concatenation back.
    """
    n = cell.num_nodes
    adj = cell.adjacency
    ch = [0] * n
    ch[0], ch[-1] = in_channels, out_channels
    feeders = [v for v in range(1, n - 1) if adj[v, n - 1]]
    if feeders:
        base, extra = divmod(out_channels, len(feeders))
        for i, v in enumerate(feeders):
            ch[v] = max(1, base + (1 if i < extra else 0))
    for v in range(n - 2, 0, -1):
        if not adj[v, n - 1]:
            ch[v] = max(1, max(ch[w] for w in np.flatnonzero(adj[v, : n - 1])))
    return ch


def _cell_module_class():
    import torch
    from torch import nn
    from torch.nn import functional as F  # noqa: N812

    def fit(x: torch.Tensor, channels: int) -> torch.Tensor:
        # NAS-Bench-101 truncates wider inputs; narrower ones (a rounding case) are zero-padded.
        c = x.shape[1]
        if c == channels:
            return x
        if c > channels:
            return x[:, :channels]
        return F.pad(x, (0, 0, 0, 0, 0, channels - c))

    def conv1x1_bn_relu(c_in: int, c_out: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
                             nn.ReLU())

    class CellModule(nn.Module):
        """One cell as a module (NAS-Bench-101 semantics; see :func:`vertex_channels`)."""

        def __init__(self, cell: Cell, in_channels: int, out_channels: int):
            super().__init__()
            cell = cell.prune()
            n = cell.num_nodes
            self.n = n
            self.adj = cell.adjacency.astype(bool)
            self.ch = vertex_channels(cell, in_channels, out_channels)
            self.ops = nn.ModuleList(
                [nn.Identity()] + [_make_op(cell.ops[v], self.ch[v]) for v in range(1, n - 1)]
            )
            self.proj = nn.ModuleDict({
                str(v): conv1x1_bn_relu(in_channels, self.ch[v])
                for v in range(1, n - 1) if self.adj[0, v]
            })
            self.feeders = [v for v in range(1, n - 1) if self.adj[v, n - 1]]
            width = sum(self.ch[v] for v in self.feeders)
            self.squeeze = (nn.Conv2d(width, out_channels, 1, bias=False)
                            if self.feeders and width != out_channels else None)
            self.skip = (conv1x1_bn_relu(in_channels, out_channels)
                         if self.adj[0, n - 1] else None)
            self.preds = [[u for u in range(1, v) if self.adj[u, v]] for v in range(n)]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            outs: list[torch.Tensor | None] = [x] + [None] * (self.n - 1)
            for v in range(1, self.n - 1):
                parts = [fit(outs[u], self.ch[v]) for u in self.preds[v]]
                if str(v) in self.proj:
                    parts.append(self.proj[str(v)](x))
                outs[v] = self.ops[v](torch.stack(parts).sum(0) if len(parts) > 1 else parts[0])
            out = None
            if self.feeders:
                out = torch.cat([outs[v] for v in self.feeders], dim=1)
                if self.squeeze is not None:
                    out = self.squeeze(out)
            if self.skip is not None:
                out = self.skip(x) if out is None else out + self.skip(x)
            return out

    return CellModule


def CellNetwork(  # noqa: N802 - a factory that reads as the class it returns
    cell: Cell, *, in_channels: int = 1, num_classes: int = 10, channels: int = 16,
    num_stacks: int = 2, cells_per_stack: int = 1,
) -> nn.Module:
    """A CNN of stacked copies of ``cell``: NAS-Bench-101's macro skeleton, scaled down.

    Stem (3x3 conv-BN-ReLU to ``channels``), then ``num_stacks`` stacks of
    ``cells_per_stack`` cells; between stacks a 2x2 max-pool halves the resolution and the
    channels double; global average pooling and a linear classifier.

    Args:
        cell: any cell with ops from :data:`KNOWN_OPS` (pruned first).
        in_channels: image channels (1 for Fashion-MNIST).
        num_classes: classifier outputs.
        channels: stem width (NAS-Bench-101 uses 128 with 3 stacks of 3 cells).
        num_stacks, cells_per_stack: depth.

    Returns:
        An ``nn.Module`` mapping ``(B, in_channels, H, W)`` to logits ``(B, num_classes)``.

    Raises:
        InvalidArchitectureError: the cell is invalid (the rule is named) or uses an op
            without a module.
    """
    from torch import nn

    cell = cell.prune()
    validate_cell(cell)
    check_int("channels", channels, 1)
    check_int("num_stacks", num_stacks, 1)
    check_int("cells_per_stack", cells_per_stack, 1)
    CellModule = _cell_module_class()  # noqa: N806
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
        nn.ReLU(),
    ]
    c = channels
    for s in range(num_stacks):
        c_out = channels * 2 ** s
        if s:
            layers.append(nn.MaxPool2d(2, 2))
        for _ in range(cells_per_stack):
            layers.append(CellModule(cell, c, c_out))
            c = c_out
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------- training


@dataclass
class TrainConfig:
    """How :class:`TrainingEvaluator` trains a cell (defaults: a quick proxy run).

    The defaults (one epoch of 2,048 images in 64 SGD steps) take about 1-7 s per cell on
    one CPU core and reach roughly 45-60 % validation accuracy for NAS-Bench-101-size and
    30-node cells (measured on a few sampled cells); batch 128 (16 steps) left most cells
    at chance, so the budget goes to more, smaller steps.

    Attributes:
        channels, num_stacks, cells_per_stack: network size (:func:`CellNetwork`).
        train_size: training images (a fixed, seeded subset of Fashion-MNIST train).
        val_size: validation images (disjoint, from the same split; the test split is
            never touched).
        batch_size: SGD batch size.
        epochs: passes over the training subset.
        max_steps: stop after this many SGD steps (``None``: all epochs).
        lr, momentum, weight_decay: SGD with Nesterov momentum, cosine-decayed learning rate.
        seed: seed of the subset, the initial weights and the batch order (the same for
            every cell, so cells are compared on equal terms).
    """

    channels: int = 16
    num_stacks: int = 2
    cells_per_stack: int = 1
    train_size: int = 2048
    val_size: int = 1024
    batch_size: int = 32
    epochs: int = 1
    max_steps: int | None = None
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("channels", "num_stacks", "cells_per_stack", "train_size", "val_size",
                     "batch_size", "epochs"):
            check_int(name, getattr(self, name), 1)
        if self.max_steps is not None:
            check_int("max_steps", self.max_steps, 1)
        check_real("lr", self.lr, 0.0, 10.0, lo_open=True)
        check_real("momentum", self.momentum, 0.0, 1.0, hi_open=True)
        check_real("weight_decay", self.weight_decay, 0.0, 1.0)
        check_int("seed", self.seed, 0)


# Fashion-MNIST train-split pixel mean and std (of x / 255), for input normalization.
_FMNIST_MEAN, _FMNIST_STD = 0.2860, 0.3530


class TrainingEvaluator(Evaluator):
    """Train a network built from the cell on Fashion-MNIST and report its accuracy.

    For cells no table covers (e.g. 20-30 node cells). Each new cell is built with
    :func:`CellNetwork`, trained with the :class:`TrainConfig`, and scored on a held-out
    validation subset; ``cost_s`` is the measured training wall time, ``params`` the
    parameter count, ``macs``/``flops`` per 28x28 image from PyTorch's
    ``FlopCounterMode`` (convolutions and linear layers; as in
    :mod:`carbide.compression.lowrank.flops`).

    Args:
        config: a :class:`TrainConfig` (default: the quick proxy run), or ``None`` with
            keyword ``overrides`` of its fields.
        data: optional ``(x_train, y_train, x_val, y_val)`` tensors to use instead of
            Fashion-MNIST (``x`` float ``(N, C, H, W)``, ``y`` int64 ``(N,)``).
        root: Fashion-MNIST data root (default ``$CARBIDE_DATA``).
        device: torch device (default CPU).

    The cache key is the canonical hash of the pruned cell, so isomorphic cells train once.
    """

    name = "training"

    def __init__(self, config: TrainConfig | None = None, *, data: Any = None,
                 root: Any = None, device: str = "cpu", **overrides: Any):
        super().__init__()
        if config is None:
            config = TrainConfig(**overrides)
        elif overrides:
            raise InvalidConfigError(
                f"give either a TrainConfig or field overrides, not both: {sorted(overrides)}"
            )
        self.config = config
        self.root = root
        self.device = device
        self._data = data

    def key(self, cell: Cell) -> str:
        h = _pruned_hash(cell)
        if h is None:
            raise InvalidArchitectureError(
                "unreachable: the output node cannot be reached from the input node"
            )
        return h

    def data(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x_train, y_train, x_val, y_val)``: loaded once, normalized float tensors."""
        if self._data is None:
            import torch

            from ..datasets import load_fashion_mnist

            cfg = self.config
            ds = load_fashion_mnist("train", self.root)
            if cfg.train_size + cfg.val_size > len(ds):
                raise InvalidConfigError(
                    f"train_size + val_size = {cfg.train_size + cfg.val_size} exceeds the "
                    f"{len(ds)} Fashion-MNIST training images"
                )
            gen = torch.Generator().manual_seed(cfg.seed)
            idx = torch.randperm(len(ds), generator=gen)
            tr, va = idx[: cfg.train_size], idx[cfg.train_size: cfg.train_size + cfg.val_size]
            x = (ds.float_images() - _FMNIST_MEAN) / _FMNIST_STD
            self._data = (x[tr], ds.labels[tr], x[va], ds.labels[va])
        return self._data

    def build(self, cell: Cell) -> nn.Module:
        """The untrained network for ``cell`` (seeded by ``config.seed``)."""
        import torch

        cfg = self.config
        x = self.data()[0]
        torch.manual_seed(cfg.seed)
        return CellNetwork(cell, in_channels=int(x.shape[1]), num_classes=10,
                           channels=cfg.channels, num_stacks=cfg.num_stacks,
                           cells_per_stack=cfg.cells_per_stack)

    def _evaluate(self, cell: Cell) -> Evaluation:
        import torch
        from torch.nn import functional as F  # noqa: N812
        from torch.utils.flop_counter import FlopCounterMode

        from .._eval import accuracy

        cfg = self.config
        x_tr, y_tr, x_va, y_va = self.data()
        model = self.build(cell).to(self.device)
        params = sum(p.numel() for p in model.parameters())
        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x_tr[:1].to(self.device))
        flops = int(counter.get_total_flops())

        steps_per_epoch = math.ceil(len(x_tr) / cfg.batch_size)
        total = steps_per_epoch * cfg.epochs
        if cfg.max_steps is not None:
            total = min(total, cfg.max_steps)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                              nesterov=True, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
        gen = torch.Generator().manual_seed(cfg.seed)
        model.train()
        start = time.perf_counter()
        step, losses = 0, []
        while step < total:
            for batch in torch.randperm(len(x_tr), generator=gen).split(cfg.batch_size):
                if step >= total:
                    break
                xb, yb = x_tr[batch].to(self.device), y_tr[batch].to(self.device)
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss.detach()))
                step += 1
        train_s = time.perf_counter() - start
        acc = accuracy(model, x_va, y_va)
        return Evaluation(
            val_acc=100.0 * float(acc), cost_s=train_s, params=float(params),
            flops=float(flops), macs=flops / 2.0,
            extra={"steps": step, "final_loss": losses[-1] if losses else None,
                   "num_nodes": cell.prune().num_nodes, "num_edges": cell.prune().num_edges},
        )


# --------------------------------------------------------------------------- factory


def make_evaluator(space: str, bench: Any = None, **kwargs: Any) -> Evaluator:
    """The evaluator that fits a space name: ``"nb201"`` -> :class:`NB201Evaluator`,
    ``"nb101"`` -> :class:`NB101Evaluator` (both need ``bench``), ``"cell:N"`` ->
    :class:`TrainingEvaluator` (``kwargs`` go to the evaluator)."""
    text = str(space).strip().lower()
    if text in ("nb201", "nb101"):
        if bench is None:
            raise InvalidConfigError(
                f"space {space!r} is evaluated by table look-up: pass the loaded benchmark "
                f"(carbide.datasets.NASBench201/NASBench101) as bench"
            )
        return NB201Evaluator(bench, **kwargs) if text == "nb201" else NB101Evaluator(bench)
    if text.startswith("cell:"):
        return TrainingEvaluator(**kwargs)
    raise InvalidConfigError(
        f"unknown search space {space!r}; choose 'nb201', 'nb101' or 'cell:N'"
    )


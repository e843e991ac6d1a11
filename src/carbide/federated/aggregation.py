"""Aggregation over flat update vectors: the contract every rule and defense follows.

A round hands the aggregator the clients' updates stacked as ``updates`` (float32 ``(n, d)``,
row ``i`` = client ``i``'s model delta, flattened with :func:`flatten`), their sample counts
``weights`` (``(n,)``) and their ids. It returns an :class:`AggregationResult` holding the
global update ``(d,)`` that the server adds to the model, plus the per-client weight it gave
each update (0 = rejected), so defenses can be scored (false positives on benign clients,
attackers let through).

Pure functions take and return tensors; the :class:`Aggregator` classes wrap them with their
parameters (and, for stateful rules such as FoolsGold, their history), which is what
:class:`~carbide.federated.Simulation` calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "AggregationResult",
    "Aggregator",
    "FedAvg",
    "all_finite",
    "check_updates",
    "fedavg",
    "flatten",
    "unflatten_",
]


@dataclass
class AggregationResult:
    """What an aggregator made of one round.

    Attributes:
        update: the global update, float32 ``(d,)``.
        client_weights: the weight each client's update got in ``update``, ``(n,)``,
            summing to 1 over the accepted clients; 0 marks a rejected update.
        info: rule-specific facts (scores, selected indices, clipping factors ...), JSON-able.
    """

    update: torch.Tensor
    client_weights: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> torch.Tensor:
        """Boolean ``(n,)``: which clients' updates entered the aggregate."""
        return self.client_weights > 0


class Aggregator(Protocol):
    """``aggregator(updates (n, d), weights (n,), client_ids) -> AggregationResult``.

    Stateful aggregators also provide ``state_dict()`` / ``load_state_dict(state)``.
    """

    name: str

    def __call__(
        self, updates: torch.Tensor, weights: torch.Tensor, client_ids: Sequence[str]
    ) -> AggregationResult: ...


def all_finite(t: torch.Tensor) -> bool:
    """Whether ``t`` holds no NaN or Inf.

    Uses ``torch.aminmax`` (NaN propagates to both ends, an infinity shows at one end) rather
    than ``torch.isfinite(t).all()``, which materializes a boolean tensor as large as ``t``:
    on a 10 x 6.6M update matrix, one thread, 0.01 s against 0.28 s. Exact, unlike a sum,
    which could overflow for huge but finite values.
    """
    import torch

    if t.numel() == 0:
        return True
    lo, hi = torch.aminmax(t)
    return bool(torch.isfinite(lo) & torch.isfinite(hi))


def check_updates(updates: torch.Tensor, weights: torch.Tensor | None = None) -> None:
    """Raise ``InvalidConfigError`` unless ``updates`` is a non-empty finite ``(n, d)`` float
    tensor and ``weights`` (if given) a non-negative ``(n,)`` vector with a positive sum."""
    import torch

    if not isinstance(updates, torch.Tensor) or updates.ndim != 2 or updates.shape[0] == 0:
        shape = tuple(updates.shape) if isinstance(updates, torch.Tensor) else type(updates)
        raise InvalidConfigError(f"updates must be a (n, d) tensor with n >= 1, got {shape}")
    if not all_finite(updates):
        bad = (~torch.isfinite(updates)).any(dim=1).nonzero().flatten().tolist()
        raise InvalidConfigError(f"updates of rows {bad} hold NaN or Inf; drop them first")
    if weights is not None:
        if weights.shape != (updates.shape[0],):
            raise InvalidConfigError(
                f"weights must have shape ({updates.shape[0]},), got {tuple(weights.shape)}")
        if (weights < 0).any() or float(weights.sum()) <= 0:
            raise InvalidConfigError(
                f"weights must be >= 0 with a positive sum, got {weights.tolist()}")


def fedavg(updates: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """FedAvg (McMahan et al., 2017): the sample-weighted mean of ``updates`` ``(n, d)`` with
    ``weights`` ``(n,)`` -> ``(d,)``."""
    check_updates(updates, weights)
    w = weights.to(updates.dtype) / weights.sum()
    return w @ updates


@dataclass
class FedAvg:
    """The undefended baseline: sample-weighted mean of all updates."""

    name: str = "fedavg"

    def __call__(
        self, updates: torch.Tensor, weights: torch.Tensor, client_ids: Sequence[str]
    ) -> AggregationResult:
        w = weights.to(updates.dtype)
        return AggregationResult(fedavg(updates, weights), w / w.sum())


def flatten(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """Concatenate tensors (e.g. a model's parameters) into one float32 vector ``(d,)``."""
    import torch

    return torch.cat([t.detach().reshape(-1).float() for t in tensors])


def unflatten_(vector: torch.Tensor, tensors: Sequence[torch.Tensor]) -> None:
    """Copy ``vector`` ``(d,)`` back into ``tensors`` in place (the inverse of
    :func:`flatten`); its length must equal their total number of elements."""
    total = sum(t.numel() for t in tensors)
    if vector.numel() != total:
        raise InvalidConfigError(
            f"vector has {vector.numel()} values but the tensors hold {total}")
    offset = 0
    for t in tensors:
        n = t.numel()
        t.data.copy_(vector[offset:offset + n].view_as(t))
        offset += n

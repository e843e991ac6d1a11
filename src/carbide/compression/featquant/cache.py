"""Degree-ordered device cache (PaGraph style) for quantized features.

Neighbour sampling reaches high in-degree nodes most often, so keeping their codes on the
compute device removes most host-to-device traffic (BiFeat, arXiv 2207.14696, combines its
quantization with such a cache).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .quantized import QuantizedFeatures

__all__ = ["cache_by_degree", "degree_order"]


def degree_order(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """Node ids sorted by in-degree, highest first (ties by id): int64 ``(num_nodes,)``."""
    import torch

    deg = torch.bincount(edge_index[1].long(), minlength=num_nodes)
    return torch.sort(deg, descending=True, stable=True).indices


def cache_by_degree(
    features: QuantizedFeatures,
    edge_index: torch.Tensor,
    fraction: float,
    device: str | torch.device,
) -> torch.Tensor:
    """Cache the codes of the top ``fraction`` of nodes by in-degree on ``device``.

    Returns:
        The cached node ids (int64).
    """
    if not 0.0 <= fraction <= 1.0:
        raise InvalidConfigError(f"cache fraction must be in [0, 1], got {fraction!r}")
    rows = degree_order(edge_index, features.shape[0])[: int(round(fraction * features.shape[0]))]
    features.cache_rows(rows, device)
    return rows

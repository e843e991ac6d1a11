"""Validation of row indices shared by every feature container."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["check_index"]


def check_index(index: torch.Tensor, num_rows: int) -> torch.Tensor:
    """Return ``index`` as a 1-D int64 CPU tensor, or raise.

    Raises:
        TypeError: ``index`` is not an integer tensor.
        IndexError: an index is outside ``[-num_rows, num_rows)``; names the bound. Negative
            indices count from the end, as in torch.
    """
    import torch

    if not isinstance(index, torch.Tensor):
        index = torch.as_tensor(index)
    if index.dtype == torch.bool or index.dtype.is_floating_point or index.dtype.is_complex:
        raise TypeError(f"index must be an integer tensor, got dtype {index.dtype}")
    index = index.reshape(-1).to("cpu", torch.long)
    if index.numel():
        lo, hi = int(index.min()), int(index.max())
        if lo < -num_rows or hi >= num_rows:
            bad = lo if lo < -num_rows else hi
            raise IndexError(
                f"index {bad} is out of range for {num_rows} rows (valid: 0..{num_rows - 1})"
            )
        if lo < 0:
            index = torch.where(index < 0, index + num_rows, index)
    return index

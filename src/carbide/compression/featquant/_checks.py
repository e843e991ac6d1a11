"""Input checks for feature matrices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["check_features"]


def check_features(x: torch.Tensor) -> None:
    """Raise ``InvalidConfigError`` unless ``x`` is a finite floating tensor of shape (N, D).

    The message for NaN/Inf says how many and where (first row, column).
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise InvalidConfigError(f"features must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 2:
        raise InvalidConfigError(f"features must have shape (N, D), got {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise InvalidConfigError(f"features must be floating point, got dtype {x.dtype}")
    if x.numel() == 0 or bool(torch.isfinite(x).all()):
        return
    bad = ~torch.isfinite(x)
    count = int(bad.sum())
    if count:
        row, col = (int(v) for v in bad.nonzero()[0])
        nan = int(torch.isnan(x).sum())
        raise InvalidConfigError(
            f"features hold {count} non-finite values ({nan} NaN, {count - nan} Inf); the first "
            f"is at row {row}, column {col}; clean or impute them before quantizing"
        )

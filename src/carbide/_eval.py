"""Batched inference helpers shared by the systems (torch is imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = ["accuracy", "predict"]


def predict(model: nn.Module, x: torch.Tensor, *, batch_size: int = 1024) -> torch.Tensor:
    """Top-1 labels ``(N,)`` (int64, on the CPU) of ``model`` for inputs ``x`` ``(N, ...)``.

    Runs in eval mode without autograd, in batches on the model's device (``x``'s for a model
    without parameters); the model's mode is restored afterwards.
    """
    import torch

    was = model.training
    model.eval()
    param = next(model.parameters(), None)
    device = param.device if param is not None else x.device
    out = []
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                out.append(model(x[start:start + batch_size].to(device)).argmax(1).cpu())
    finally:
        model.train(was)
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
             batch_size: int = 1024) -> float:
    """Top-1 accuracy of ``model`` on inputs ``x`` ``(N, ...)`` with labels ``y`` ``(N,)``;
    0.0 for an empty set."""
    if len(y) == 0:
        return 0.0
    return int((predict(model, x, batch_size=batch_size) == y.cpu()).sum()) / len(y)

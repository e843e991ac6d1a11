"""Save a compacted model so that it runs with PyTorch alone (no carbide import)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from ..._io import atomic_path

__all__ = ["export_model"]


def export_model(model: nn.Module, input_shape: Sequence[int],
                 path: str | os.PathLike[str]) -> None:
    """Write ``model`` (eval mode) as a :func:`torch.export` program to ``path`` (``.pt2``),
    with a dynamic batch dimension. Load it with ``torch.export.load(path).module()``.

    The file holds the graph and weights, not Python classes, so neither carbide nor the model's
    own class is needed to run it. Written atomically.
    """
    model = model.eval()
    example = torch.zeros(2, *input_shape)
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    with atomic_path(path) as tmp:
        torch.export.save(program, tmp)

"""FLOPs and parameter counts of a model.

FLOPs come from PyTorch's own counter (:class:`torch.utils.flop_counter.FlopCounterMode`,
maintained with the ATen operators), which counts the multiply-adds of convolutions and matrix
products as 2 FLOPs each and ignores element-wise work (batch norm, activations, pooling), the
usual convention of the pruning literature. Ratios (``flops_reduction``) are the same whether one
counts FLOPs or MACs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["count_flops", "count_params", "flops_by_module"]


def _example(model: nn.Module, input_shape: Sequence[int]) -> torch.Tensor:
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
    return torch.zeros((1, *input_shape), device=device, dtype=dtype)


def count_flops(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FLOPs of one forward pass of a single sample.

    Args:
        model: the model (run once in eval mode under ``torch.no_grad``; its mode is restored).
        input_shape: one sample's shape without the batch dimension, e.g. ``(3, 32, 32)``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(_example(model, input_shape))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def flops_by_module(model: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """FLOPs of each leaf module that does any (``nn.Conv2d``/``nn.Linear``/SVD layers), by
    qualified name, for one sample."""
    from torch.utils.flop_counter import FlopCounterMode

    from ._layers import SVDModule

    leaves = {n: m for n, m in model.named_modules()
              if isinstance(m, (nn.Conv2d, nn.Linear, SVDModule))}
    counts: dict[str, int] = {}
    was_training = model.training
    model.eval()
    hooks = []

    def make_hooks(name: str):
        state: dict[str, FlopCounterMode] = {}

        def pre(_m, _inp):
            state["c"] = FlopCounterMode(display=False)
            state["c"].__enter__()

        def post(_m, _inp, _out):
            c = state.pop("c")
            c.__exit__(None, None, None)
            counts[name] = counts.get(name, 0) + int(c.get_total_flops())

        return pre, post

    try:
        for name, m in leaves.items():
            if any(name.startswith(other + ".") for other in leaves if other != name):
                continue  # a layer inside an SVD layer or similar: counted by its parent
            pre, post = make_hooks(name)
            hooks.append(m.register_forward_pre_hook(pre))
            hooks.append(m.register_forward_hook(post))
        with torch.no_grad():
            model(_example(model, input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return counts


def count_params(model: nn.Module) -> int:
    """Number of parameters (buffers such as batch-norm statistics excluded)."""
    return sum(p.numel() for p in model.parameters())

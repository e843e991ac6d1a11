"""Baselines at matched FLOPs: post-hoc truncated SVD and L1-norm filter pruning.

- Truncated SVD: decompose a normally trained model with its exact SVD, then prune every layer by
  one energy threshold ``E`` found by bisection so that the compacted model's FLOPs meet a target
  (the same energy criterion as SVD training, without having trained for it).
- L1 filter pruning (Li et al., "Pruning Filters for Efficient ConvNets", ICLR 2017): in every
  prune group ``(conv, bn, next_conv)`` remove the same fraction of ``conv``'s filters, those of
  smallest L1 norm (chosen by :func:`torch.nn.utils.prune.ln_structured`), then slice them out of
  ``bn`` and ``next_conv`` so the model is physically smaller. The fraction is found by
  bisection to meet a FLOPs target.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from ..._validate import check_real
from ...exceptions import InvalidConfigError
from ._decompose import compact, decompose, prune_
from .flops import count_flops

__all__ = ["prune_filters", "prune_filters_to_flops", "truncate_svd", "truncate_svd_to_flops"]

_BISECT_STEPS = 30


def _bisect_to_flops(build: Callable[[float], nn.Module], flops_of: Callable[[nn.Module], int],
                     target: float, unreachable: str) -> tuple[nn.Module, float]:
    """Smallest knob in ``[0, 1)`` whose model ``build(knob)`` has at most ``target`` FLOPs
    (bisection; FLOPs fall as the knob grows). ``unreachable`` formats the error raised when
    even the largest knob misses the target."""
    lo, hi = 0.0, 1.0 - 1e-9
    best = build(hi)
    floor = flops_of(best)
    if floor > target:
        raise InvalidConfigError(unreachable.format(target=target, floor=floor))
    knob = hi
    for _ in range(_BISECT_STEPS):
        mid = (lo + hi) / 2
        cand = build(mid)
        if flops_of(cand) <= target:
            hi, best, knob = mid, cand, mid
        else:
            lo = mid
    return best, knob


def truncate_svd(model: nn.Module, energy: float, *, mode: str = "channel") -> nn.Module:
    """A copy of a trained dense ``model`` in exact-SVD form, pruned by ``energy``."""
    out = copy.deepcopy(model)
    decompose(out, mode=mode, init="svd")
    prune_(out, energy)
    return out


def truncate_svd_to_flops(model: nn.Module, input_shape: Sequence[int], target_flops: float,
                          *, mode: str = "channel") -> tuple[nn.Module, float]:
    """Truncated SVD of ``model`` at the smallest energy ``E`` whose compacted FLOPs are at
    most ``target_flops`` (bisection on ``E``).

    Returns:
        ``(pruned SVD model, E)``.

    Raises:
        InvalidConfigError: even ``E`` close to 1 (rank 1 everywhere) stays above the target.
    """
    return _bisect_to_flops(
        lambda e: truncate_svd(model, e, mode=mode),
        lambda m: count_flops(compact(m), input_shape), target_flops,
        "truncated SVD cannot reach {target:.4g} FLOPs: rank 1 everywhere needs {floor:.4g}")


def _slice_conv(conv: nn.Conv2d, *, out_idx: torch.Tensor | None = None,
                in_idx: torch.Tensor | None = None) -> nn.Conv2d:
    w = conv.weight.detach()
    b = conv.bias.detach() if conv.bias is not None else None
    if out_idx is not None:
        w = w[out_idx]
        b = b[out_idx] if b is not None else None
    if in_idx is not None:
        w = w[:, in_idx]
    new = nn.Conv2d(w.shape[1], w.shape[0], conv.kernel_size, stride=conv.stride,
                    padding=conv.padding, dilation=conv.dilation, bias=b is not None,
                    padding_mode=conv.padding_mode, device=w.device, dtype=w.dtype)
    with torch.no_grad():
        new.weight.copy_(w)
        if b is not None:
            new.bias.copy_(b)
    return new


def _slice_bn(bn: nn.BatchNorm2d, idx: torch.Tensor) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(idx), eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                         track_running_stats=bn.track_running_stats,
                         device=bn.weight.device if bn.affine else None)
    with torch.no_grad():
        if bn.affine:
            new.weight.copy_(bn.weight[idx])
            new.bias.copy_(bn.bias[idx])
        if bn.track_running_stats:
            new.running_mean.copy_(bn.running_mean[idx])
            new.running_var.copy_(bn.running_var[idx])
            new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent), child, module)


def prune_filters(model: nn.Module, amount: float,
                  groups: Sequence[tuple[str, str, str]] | None = None) -> nn.Module:
    """A copy of ``model`` with the ``amount`` fraction of filters of smallest L1 norm removed
    from every group's conv (at least one filter kept per conv).

    Args:
        amount: fraction in ``[0, 1)`` of each group conv's filters to remove.
        groups: ``(conv, bn, next_conv)`` names; default ``model.filter_prune_groups()``.
    """
    check_real("amount", amount, 0.0, 1.0, hi_open=True)
    if groups is None:
        if not hasattr(model, "filter_prune_groups"):
            raise InvalidConfigError(
                f"{type(model).__name__} declares no filter-prune groups; pass groups="
                "[(conv, bn, next_conv), ...]")
        groups = model.filter_prune_groups()
    out = copy.deepcopy(model)
    for conv_name, bn_name, next_name in groups:
        conv = out.get_submodule(conv_name)
        bn, nxt = out.get_submodule(bn_name), out.get_submodule(next_name)
        if not all(isinstance(m, t) for m, t in ((conv, nn.Conv2d), (bn, nn.BatchNorm2d),
                                                  (nxt, nn.Conv2d))):
            raise InvalidConfigError(
                f"prune group {(conv_name, bn_name, next_name)} must name Conv2d, BatchNorm2d, "
                "Conv2d")
        n = conv.out_channels
        k = min(int(round(amount * n)), n - 1)
        if k == 0:
            continue
        probe = copy.deepcopy(conv)
        torch_prune.ln_structured(probe, "weight", amount=k, n=1, dim=0)
        keep = torch.nonzero(probe.weight_mask.flatten(1).any(1)).flatten()
        _set(out, conv_name, _slice_conv(conv, out_idx=keep))
        _set(out, bn_name, _slice_bn(bn, keep))
        _set(out, next_name, _slice_conv(nxt, in_idx=keep))
    return out


def prune_filters_to_flops(model: nn.Module, input_shape: Sequence[int], target_flops: float,
                           groups: Sequence[tuple[str, str, str]] | None = None
                           ) -> tuple[nn.Module, float]:
    """L1 filter pruning at the smallest uniform fraction whose FLOPs are at most
    ``target_flops`` (bisection).

    Returns:
        ``(pruned model, fraction)``.

    Raises:
        InvalidConfigError: even one filter per group conv stays above the target (filter
            pruning of these groups cannot reach that reduction).
    """
    return _bisect_to_flops(
        lambda a: prune_filters(model, a, groups), lambda m: count_flops(m, input_shape),
        target_flops,
        "filter pruning cannot reach {target:.4g} FLOPs: one filter per prune group still "
        "needs {floor:.4g}")

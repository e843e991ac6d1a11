"""Swap a model's layers for SVD layers, prune their ranks by energy, export a plain model.

Paper: Yang et al., "Learning Low-rank Deep Neural Networks via Singular Vector Orthogonality
Regularization and Singular Value Sparsification", CVPR Workshops 2020 (arXiv 2004.09031).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError
from ._layers import MODES, SVDConv2d, SVDLinear, SVDModule

__all__ = [
    "INITS",
    "DecomposeReport",
    "compact",
    "decompose",
    "energy_rank",
    "layer_ranks",
    "prune_",
    "svd_layers",
]

#: Initializations of the factors: the exact SVD of the trained weight, or random orthonormal
#: factors (training from scratch in SVD form).
INITS: tuple[str, ...] = ("svd", "random")


@dataclass
class DecomposeReport:
    """What :func:`decompose` did.

    Attributes:
        decomposed: names of the layers now in SVD form, in module order.
        skipped: name -> reason, for every ``nn.Conv2d`` / ``nn.Linear`` left as it was.
    """

    decomposed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"decomposed {len(self.decomposed)} layers"]
        lines += [f"  skipped {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


def _reason_to_skip(module: nn.Module, mode: str, min_rank: int) -> str | None:
    if isinstance(module, nn.Conv2d):
        if module.groups != 1:
            kind = "depthwise" if module.groups == module.in_channels else "grouped"
            return f"{kind} conv (groups={module.groups}) has no single weight matrix"
        if isinstance(module.padding, str) and (mode == "spatial"
                                                or module.padding_mode != "zeros"):
            return (f"padding={module.padding!r} with mode={mode!r}, "
                    f"padding_mode={module.padding_mode!r} is not supported")
        cout, cin, kh, kw = module.weight.shape
        rank = min(cout, cin * kh * kw) if mode == "channel" else min(cin * kh, cout * kw)
    else:
        rank = min(module.weight.shape)
    if rank < min_rank:
        return f"full rank {rank} < min_rank={min_rank} (too small to gain from a factorization)"
    return None


def decompose(
    model: nn.Module,
    *,
    mode: str = "channel",
    init: str = "svd",
    filter_fn: Callable[[str, nn.Module], bool] | None = None,
    min_rank: int = 2,
    seed: int = 0,
) -> DecomposeReport:
    """Replace every ``nn.Conv2d`` and ``nn.Linear`` of ``model`` by its SVD form, in place.

    Args:
        model: any module; its ``Conv2d`` / ``Linear`` children are swapped.
        mode: conv decomposition, ``"channel"`` (default; ``Cout x Cin k k``) or ``"spatial"``
            (``(Cin kh) x (Cout kw)``). Linear layers have one.
        init: ``"svd"`` (default; the exact factors, so the model computes the same function)
            or ``"random"`` (random orthonormal factors with the weight's singular values).
        filter_fn: ``(name, module) -> bool``; layers for which it returns ``False`` are kept
            dense and listed in ``skipped`` ("excluded by filter_fn").
        min_rank: layers whose full rank is below this are kept dense (default 2).
        seed: seed of the random factors (``init="random"``).

    Returns:
        A :class:`DecomposeReport` naming the decomposed layers and why others were skipped
        (grouped/depthwise convs, unsupported padding, tiny layers, the filter).

    Raises:
        InvalidConfigError: unknown ``mode``/``init``, ``min_rank < 1``, or nothing in
            ``model`` could be decomposed (the message lists what was skipped and why).
    """
    if mode not in MODES:
        raise InvalidConfigError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    if init not in INITS:
        raise InvalidConfigError(f"unknown init {init!r}; choose one of: {', '.join(INITS)}")
    check_int("min_rank", min_rank, 1)
    gen = torch.Generator().manual_seed(seed)
    report = DecomposeReport()
    targets: list[tuple[nn.Module, str, str, nn.Module]] = []
    for name, module in model.named_modules():
        if isinstance(module, SVDModule):
            report.skipped[name] = "already in SVD form"
            continue
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            continue
        if filter_fn is not None and not filter_fn(name, module):
            report.skipped[name] = "excluded by filter_fn"
            continue
        why = _reason_to_skip(module, mode, min_rank)
        if why is not None:
            report.skipped[name] = why
            continue
        if name == "":
            raise InvalidConfigError(
                f"decompose swaps layers inside a model, and got a bare {type(module).__name__}; "
                "wrap it first: nn.Sequential(layer)")
        parent_name, _, child = name.rpartition(".")
        targets.append((model.get_submodule(parent_name), child, name, module))
    if not targets:
        detail = "; ".join(f"{n}: {w}" for n, w in report.skipped.items()) or (
            "it has no nn.Conv2d or nn.Linear layers")
        raise InvalidConfigError(f"nothing to decompose in {type(model).__name__}: {detail}")
    for parent, child, name, module in targets:
        if isinstance(module, nn.Conv2d):
            new: nn.Module = SVDConv2d(module, mode=mode, init=init, generator=gen)
        else:
            new = SVDLinear(module, init=init, generator=gen)
        setattr(parent, child, new)
        report.decomposed.append(name)
    return report


def svd_layers(model: nn.Module) -> dict[str, SVDModule]:
    """Name -> SVD layer, for every :class:`SVDLinear`/:class:`SVDConv2d` in ``model``."""
    return {n: m for n, m in model.named_modules() if isinstance(m, SVDModule)}


def energy_rank(s: torch.Tensor, energy: float) -> int:
    """Smallest number of the largest ``|s|`` whose energy ``sum s^2`` is at least
    ``(1 - energy)`` of the total (at least 1).

    Args:
        s: singular values, shape ``(r,)`` (any sign).
        energy: the fraction of energy allowed to be removed, in ``(0, 1)``.
    """
    sq = torch.sort(s.detach().double() ** 2, descending=True).values
    total = float(sq.sum())
    if total == 0.0:
        return 1
    cum = torch.cumsum(sq, 0)
    # relative tolerance so that an exact (1 - E) share counts as enough
    need = (1.0 - energy) * total * (1.0 - 1e-12)
    return max(1, int(torch.searchsorted(cum, torch.tensor(need, dtype=cum.dtype))) + 1)


def prune_(model: nn.Module, energy: float) -> dict[str, tuple[int, int]]:
    """Prune every SVD layer to the ranks holding ``(1 - energy)`` of its energy, in place.

    Per layer, keeps the largest ``|s|`` until ``sum s_kept^2 >= (1 - energy) sum s^2`` and
    removes the other ranks physically (``U``, ``s``, ``V`` shrink; rebuild optimizers).

    Args:
        model: a model with SVD layers (after :func:`decompose`).
        energy: ``E`` in ``(0, 1)``; larger prunes more.

    Returns:
        Layer name -> ``(kept rank, rank before pruning)``.

    Raises:
        InvalidConfigError: ``energy`` outside ``(0, 1)``, or the model has no SVD layers.
    """
    check_real("energy", energy, 0.0, 1.0, lo_open=True, hi_open=True)
    layers = svd_layers(model)
    if not layers:
        raise InvalidConfigError(
            f"{type(model).__name__} has no SVD layers to prune; call decompose(model) first")
    kept: dict[str, tuple[int, int]] = {}
    for name, layer in layers.items():
        before = layer.rank
        k = energy_rank(layer.s, energy)
        index = torch.sort(torch.argsort(layer.s.detach().abs(), descending=True)[:k]).values
        layer.keep_ranks_(index)
        kept[name] = (k, before)
    return kept


def layer_ranks(model: nn.Module) -> dict[str, tuple[int, int]]:
    """Layer name -> ``(current rank, full rank)`` of every SVD layer."""
    return {n: (m.rank, m.full_rank) for n, m in svd_layers(model).items()}


def compact(model: nn.Module, *, dense_if_cheaper: bool = True,
            factorize: dict[str, bool] | None = None) -> nn.Module:
    """A deployable copy of ``model`` made of ordinary ``nn.Conv2d`` / ``nn.Linear`` layers.

    Each SVD layer becomes an ``nn.Sequential`` of two plain layers of its kept rank (same
    outputs up to float rounding). With ``dense_if_cheaper`` (default), a layer whose kept rank
    is too high for the pair to save weights becomes one dense layer with the rebuilt weight
    instead, so compaction never makes a layer bigger. ``factorize`` (layer name -> keep the
    pair), when given, decides instead for the layers it names (see
    :func:`~carbide.compression.lowrank.factorize_decisions`). ``model`` itself is not
    changed (nor its training mode), and the copy needs no carbide import to run or to pickle.
    For an inference copy whose latency follows its FLOPs see
    :func:`~carbide.compression.lowrank.deploy`.
    """
    out = copy.deepcopy(model)
    for name, layer in list(svd_layers(out).items()):
        if factorize is not None and name in factorize:
            pair = factorize[name]
        else:
            pair = not dense_if_cheaper or layer.low_rank_cheaper()
        plain = layer.to_dense_layers() if pair else layer.to_dense()
        plain.train(layer.training)
        if name == "":
            return plain
        parent_name, _, child = name.rpartition(".")
        setattr(out.get_submodule(parent_name), child, plain)
    return out

"""The SVD-training regularizers: orthogonality of singular vectors, sparsity of singular values.

Paper: Yang et al., CVPR Workshops 2020 (arXiv 2004.09031), eq. (3)-(5). The training loss is::

    task_loss + strength * sum_layers R(s) + orth * sum_layers (L_o(U) + L_o(V))

with ``L_o(M) = ||M^T M - I||_F^2 / r^2`` for ``M`` of shape ``(n, r)`` (the ``r x r`` Gram
side) and ``R`` one of :data:`SPARSITY`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..._validate import check_real
from ...exceptions import InvalidConfigError
from ._layers import SVDModule

__all__ = ["SPARSITY", "SVDRegularizer", "orthogonality_loss", "sparsity_loss"]

#: Sparsity-inducing regularizers of the singular values: ``"l1"`` = ||s||_1,
#: ``"hoyer"`` = ||s||_1 / ||s||_2, ``"hoyer2"`` (Hoyer-square) = ||s||_1^2 / ||s||_2^2, and
#: ``"none"``.
SPARSITY: tuple[str, ...] = ("hoyer", "l1", "hoyer2", "none")

_EPS = 1e-12  # keeps the Hoyer ratios finite if every s reaches 0


def orthogonality_loss(m: torch.Tensor) -> torch.Tensor:
    """``||M^T M - I||_F^2 / r^2`` for singular vectors ``M`` of shape ``(n, r)``; 0 when the
    columns are orthonormal."""
    r = m.shape[1]
    gram = m.T @ m
    eye = torch.eye(r, dtype=m.dtype, device=m.device)
    return ((gram - eye) ** 2).sum() / (r * r)


def sparsity_loss(s: torch.Tensor, kind: str = "hoyer") -> torch.Tensor:
    """The sparsity regularizer ``R(s)`` of one layer's singular values ``s`` (shape ``(r,)``).

    ``"l1"``: ``sum |s|``; ``"hoyer"``: ``sum |s| / sqrt(sum s^2)`` (scale-invariant, between 1
    and ``sqrt(r)``); ``"hoyer2"``: ``(sum |s|)^2 / sum s^2``; ``"none"``: 0.
    """
    if kind == "l1":
        return s.abs().sum()
    if kind == "hoyer":
        return s.abs().sum() / (s.pow(2).sum().sqrt() + _EPS)
    if kind == "hoyer2":
        return s.abs().sum().pow(2) / (s.pow(2).sum() + _EPS)
    if kind == "none":
        return s.new_zeros(())
    raise InvalidConfigError(f"unknown sparsity {kind!r}; choose one of: {', '.join(SPARSITY)}")


@dataclass
class SVDRegularizer:
    """The summed regularizer over every SVD layer of a model.

    Args:
        sparsity: one of :data:`SPARSITY` (default ``"hoyer"``).
        strength: ``lambda_s`` >= 0 (the authors' ResNet-20 channel-wise values: about 0.07 for
            Hoyer, 0.3 for L1).
        orth: ``lambda_o`` >= 0 (default 1.0, the authors').

    Calling it on a model returns ``(total, parts)`` where ``total`` is the scalar to add to
    the task loss and ``parts`` holds ``"orth"`` and ``"sparsity"`` (unweighted sums, as
    floats) for logging.
    """

    sparsity: str = "hoyer"
    strength: float = 0.0
    orth: float = 1.0

    def __post_init__(self) -> None:
        if self.sparsity not in SPARSITY:
            raise InvalidConfigError(
                f"unknown sparsity {self.sparsity!r}; choose one of: {', '.join(SPARSITY)}")
        self.strength = check_real("strength (lambda_s)", self.strength, 0.0, float("inf"),
                                   hi_open=True)
        self.orth = check_real("orth (lambda_o)", self.orth, 0.0, float("inf"), hi_open=True)

    def __call__(self, model: nn.Module) -> tuple[torch.Tensor, dict[str, float]]:
        layers = [m for m in model.modules() if isinstance(m, SVDModule)]
        if not layers:
            raise InvalidConfigError(
                f"{type(model).__name__} has no SVD layers to regularize; call decompose(model)")
        orth = sum(orthogonality_loss(m.U) + orthogonality_loss(m.V) for m in layers)
        sparse = sum(sparsity_loss(m.s, self.sparsity) for m in layers)
        total = self.orth * orth + self.strength * sparse
        return total, {"orth": float(orth.detach()), "sparsity": float(sparse.detach())}

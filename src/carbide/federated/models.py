"""Models of the federated experiments: the LEAF FEMNIST CNN and a small image CNN.

Models are built through :class:`ModelSpec`, a small picklable recipe, so that a client task
shipped to another process (a Ray worker) can rebuild the same network from its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .._validate import check_int
from ..exceptions import InvalidConfigError

__all__ = ["MODEL_KINDS", "LeafCNN", "ModelSpec", "SmallLeafCNN"]

#: Model kinds :class:`ModelSpec` builds.
MODEL_KINDS: tuple[str, ...] = ("leaf-cnn", "small-cnn")


class LeafCNN(nn.Module):
    """The LEAF FEMNIST CNN (Caldas et al., 2018): two 5x5 conv layers (``widths``, 32 and 64
    channels, same padding) each followed by 2x2 max pooling, a dense layer of ``hidden``
    units (2048 in LEAF) and the class layer. Input ``(N, C, S, S)`` with ``S`` divisible by
    4, output logits ``(N, num_classes)``."""

    def __init__(self, in_channels: int = 1, num_classes: int = 62, hidden: int = 2048,
                 image_size: int = 28, widths: tuple[int, int] = (32, 64)) -> None:
        super().__init__()
        side = image_size // 4
        c1, c2 = widths
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * side * side, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class SmallLeafCNN(LeafCNN):
    """The LEAF CNN's shape at half the conv width, for Fashion-MNIST / CIFAR-10 style
    images: conv5x5(16) - pool - conv5x5(32) - pool - dense(``hidden``, 64) - classes (no
    batch norm; not the low-rank package's :class:`~carbide.compression.lowrank.SmallBNCNN`).
    Arguments in :class:`LeafCNN`'s order: ``in_channels`` first."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, hidden: int = 64,
                 image_size: int = 28) -> None:
        super().__init__(in_channels, num_classes, hidden, image_size, widths=(16, 32))


@dataclass(frozen=True)
class ModelSpec:
    """A picklable recipe for a model: ``spec.build_model()`` (or ``spec()``) returns a fresh
    ``nn.Module``.

    Args:
        kind: ``"leaf-cnn"`` (:class:`LeafCNN`) or ``"small-cnn"`` (:class:`SmallLeafCNN`).
        in_channels, num_classes, image_size: the data's shape (square images, side divisible
            by 4).
        hidden: width of the dense layer (default: 2048 for ``leaf-cnn``, 64 for ``small-cnn``).

    Any zero-argument picklable callable returning an ``nn.Module`` (e.g. a
    ``functools.partial``) can stand in for a spec where a model factory is asked for.
    """

    kind: str = "small-cnn"
    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 28
    hidden: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise InvalidConfigError(
                f"unknown model kind {self.kind!r}; choose one of: {', '.join(MODEL_KINDS)}")
        check_int("in_channels", self.in_channels, 1)
        check_int("num_classes", self.num_classes, 2)
        check_int("image_size", self.image_size, 4)
        if self.image_size % 4:
            raise InvalidConfigError(
                f"image_size must be divisible by 4 (two 2x2 poolings), got {self.image_size}")
        if self.hidden is not None:
            check_int("hidden", self.hidden, 1)

    def build_model(self) -> nn.Module:
        """A fresh, randomly initialized model of this recipe."""
        cls = LeafCNN if self.kind == "leaf-cnn" else SmallLeafCNN
        kwargs = {} if self.hidden is None else {"hidden": self.hidden}
        return cls(self.in_channels, self.num_classes, image_size=self.image_size, **kwargs)

    __call__ = build_model

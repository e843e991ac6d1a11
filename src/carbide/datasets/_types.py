"""Small containers the loaders return (torch is imported only when a loader runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["FederatedDataset", "ImageDataset"]


@dataclass
class ImageDataset:
    """Images and labels of one split.

    Attributes:
        images: ``uint8`` tensor of shape ``(N, C, H, W)`` (C = 1 for grey, 3 for RGB),
            values 0..255 as stored.
        labels: ``int64`` tensor of shape ``(N,)``, values ``0 .. len(classes) - 1``.
        classes: class names, index = label.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def float_images(self) -> torch.Tensor:
        """Images as ``float32`` in ``[0, 1]``, shape ``(N, C, H, W)``."""
        return self.images.float().div_(255.0)


@dataclass
class FederatedDataset:
    """Per-client data, train and test aligned by client id (LEAF style).

    Attributes:
        train: client id -> ``(x, y)`` with ``x`` float32 of shape ``(n, *sample_shape)`` and
            ``y`` int64 of shape ``(n,)``.
        test: the same for the test split, same client ids (a client may have no test data,
            then its tensors have ``n = 0``).
        num_classes: number of classes.
        meta: free-form facts about the source (files read, value range, ...).
    """

    train: dict[str, tuple[torch.Tensor, torch.Tensor]]
    test: dict[str, tuple[torch.Tensor, torch.Tensor]]
    num_classes: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def clients(self) -> list[str]:
        """Client ids in a stable order."""
        return list(self.train)

    def num_samples(self, split: str = "train") -> dict[str, int]:
        """Client id -> number of samples in ``split`` (``"train"`` or ``"test"``)."""
        data = {"train": self.train, "test": self.test}[split]
        return {c: int(y.shape[0]) for c, (_, y) in data.items()}

"""Pixel-pattern backdoor triggers and the attack success rate (ASR).

A pixel-pattern trigger (Gu et al., BadNets 2017; used for FL by Bagdasaryan et al. 2020 and
Xie et al. 2020) stamps a small fixed pattern onto an image; a backdoored model sends any
stamped image to the attacker's target label while it classifies clean images normally.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..._validate import check_int, check_real
from ...exceptions import InvalidConfigError

__all__ = ["PATTERNS", "PixelTrigger", "attack_success_rate", "backdoor_test_set"]

#: Trigger shapes: a filled square, a checkerboard, a plus sign.
PATTERNS: tuple[str, ...] = ("square", "checker", "cross")


@dataclass(frozen=True)
class PixelTrigger:
    """A ``size x size`` pixel pattern at ``position`` set to ``value`` on every channel.

    Args:
        pattern: ``"square"`` (all pixels), ``"checker"`` (alternate pixels, the corner on) or
            ``"cross"`` (middle row and column).
        size: side of the pattern in pixels (default 4).
        position: ``(row, col)`` of its top-left pixel; negative values count from the bottom
            / right edge like Python indices (default ``(1, 1)``: one pixel in from the
            top-left corner, which is background in nearly every Fashion-MNIST, FEMNIST and
            many CIFAR-10 images; in a quick test a local model learned a 4x4 square there in
            two epochs, but only 82% of the way at the bottom-right corner).
        value: the pixel value written (default 1.0, the brightest value of images in
            ``[0, 1]``; use 0.0 for FEMNIST, whose background is white).
    """

    pattern: str = "square"
    size: int = 4
    position: tuple[int, int] = (1, 1)
    value: float = 1.0

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise InvalidConfigError(
                f"unknown trigger pattern {self.pattern!r}; choose one of: {', '.join(PATTERNS)}")
        check_int("trigger size", self.size, 1)
        check_real("trigger value", self.value, -1e6, 1e6)
        if len(self.position) != 2:
            raise InvalidConfigError(f"trigger position must be (row, col), got {self.position}")

    def mask(self, height: int, width: int) -> torch.Tensor:
        """Boolean ``(height, width)`` mask of the trigger's pixels.

        Raises:
            InvalidConfigError: the pattern does not fit inside the image.
        """
        row, col = self.position
        row = row + height if row < 0 else row
        col = col + width if col < 0 else col
        if not (row >= 0 and row + self.size <= height and col >= 0 and col + self.size <= width):
            raise InvalidConfigError(
                f"a {self.size}x{self.size} trigger at {self.position} does not fit a "
                f"{height}x{width} image; move it or make it smaller")
        i = torch.arange(self.size)
        if self.pattern == "square":
            patch = torch.ones(self.size, self.size, dtype=torch.bool)
        elif self.pattern == "checker":
            patch = (i[:, None] + i[None, :]) % 2 == 0
        else:
            mid = self.size // 2
            patch = (i[:, None] == mid) | (i[None, :] == mid)
        out = torch.zeros(height, width, dtype=torch.bool)
        out[row:row + self.size, col:col + self.size] = patch
        return out

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Stamp the trigger on images ``x`` ``(N, C, H, W)``; returns a new tensor."""
        if x.ndim != 4:
            raise InvalidConfigError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}")
        out = x.clone()
        out[:, :, self.mask(x.shape[-2], x.shape[-1])] = self.value
        return out


def backdoor_test_set(
    x: torch.Tensor, y: torch.Tensor, trigger: PixelTrigger, target: int
) -> torch.Tensor:
    """Triggered copies of the test images whose true label is not ``target``, ``(M, C, H, W)``.

    Images already of the target class are left out: predicting the target for them is no
    success of the attack.
    """
    return trigger.apply(x[y != target])


def attack_success_rate(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, trigger: PixelTrigger,
    target: int, *, batch_size: int = 1024,
) -> float:
    """ASR: the share of triggered test images (true label != ``target``) classified as
    ``target``. ``x`` ``(N, C, H, W)``, ``y`` ``(N,)``; NaN when no image qualifies."""
    from ..._eval import predict

    xb = backdoor_test_set(x, y, trigger, target)
    if len(xb) == 0:
        return float("nan")
    return int((predict(model, xb, batch_size=batch_size) == target).sum()) / len(xb)

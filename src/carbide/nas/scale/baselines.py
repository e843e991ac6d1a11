"""Baselines: fixed HRNet-like nets and a single-resolution U-Net-like net at matched FLOPs.

* :func:`hrnet_like`: the space's largest architecture (every fusion, full depth) built
  stand-alone at width ``W`` -- the HRNet-like reference at several widths.
* :class:`UNetLike`: the same stride-4 stem, then a small encoder-decoder (two 2x poolings,
  skip connections by concatenation) with BasicBlocks, and a 1x1 head at stride 4: a
  single-path net whose resolution changes only sequentially (our own, as
  segmentation-models-pytorch and timm need torchvision). :func:`unet_matched` picks the width
  whose FLOPs are closest to a target.
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from ..._validate import check_int
from .space import ScaleSpace
from .supernet import BasicBlock, ScaleNet, _conv_bn_relu, count_flops

__all__ = ["UNetLike", "hrnet_like", "unet_matched"]


def hrnet_like(space: ScaleSpace, out_channels: int, width: int | None = None) -> ScaleNet:
    """The HRNet-like net of ``space`` (all fusions, full depth) at ``width`` (default the
    space's)."""
    sp = space if width is None else replace(space, width=width)
    return ScaleNet(sp, out_channels, sp.largest())


class UNetLike(nn.Module):
    """Single-resolution-path encoder-decoder; ``(N, 3, H, W) -> (N, out, H/4, W/4)``.

    Args:
        out_channels: classes or keypoints.
        width: channels at stride 4 (doubling per level).
        blocks: BasicBlocks per level.
    """

    def __init__(self, out_channels: int, width: int = 16, blocks: int = 2):
        super().__init__()
        check_int("width", width, 1)
        check_int("blocks", blocks, 1)
        w = width
        self.stem = nn.Sequential(_conv_bn_relu(3, w, 2), _conv_bn_relu(w, w, 2))
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        chans = [w, 2 * w, 4 * w]
        for i, c in enumerate(chans):
            self.enc.append(nn.Sequential(*(BasicBlock(c) for _ in range(blocks))))
            if i + 1 < len(chans):
                self.down.append(_conv_bn_relu(c, chans[i + 1], 2))
        self.up = nn.ModuleList(
            _conv_bn_relu(chans[i + 1] + chans[i], chans[i], 1) for i in reversed(range(2)))
        self.head = nn.Sequential(nn.Conv2d(w, w, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                                  nn.Conv2d(w, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        skips = []
        for i, enc in enumerate(self.enc):
            x = enc(x)
            if i < len(self.down):
                skips.append(x)
                x = self.down[i](x)
        for up in self.up:
            s = skips.pop()
            x = F.interpolate(x, size=s.shape[-2:], mode="bilinear", align_corners=False)
            x = up(torch.cat([x, s], 1))
        return self.head(x)


def unet_matched(out_channels: int, target_flops: float, input_size: tuple[int, int],
                 blocks: int = 2) -> tuple[UNetLike, int]:
    """The :class:`UNetLike` whose FLOPs are closest to ``target_flops``; returns
    ``(net, width)``."""
    best = None
    for width in range(4, 65, 2):
        net = UNetLike(out_channels, width, blocks)
        f = count_flops(net, input_size)
        gap = abs(f - target_flops)
        if best is None or gap < best[0]:
            best = (gap, net, width)
        if f > target_flops:
            break
    return best[1], best[2]

"""The multi-scale supernet, stand-alone subnets, heads, BN recalibration and FLOPs.

One class, :class:`ScaleNet`, builds both: with ``arch=None`` it holds every block and every
fusion path of the :class:`~carbide.nas.scale.space.ScaleSpace` (the supernet) and runs the
architecture passed to :meth:`ScaleNet.forward`; with an ``arch`` it holds only that
architecture's blocks and paths (the stand-alone ScaleNet). Parameter names are the same in
both, so :meth:`ScaleNet.export` copies a subnet out of the supernet by name: weight sharing
over depth (a branch of depth ``d`` uses blocks ``0..d-1``) and over fusion (round ``j``'s path
``k -> i`` is one module, used by every architecture whose bit ``fusion[j][i][k]`` is 1).

Shapes: input ``(N, 3, H, W)`` with ``H, W`` divisible by 32; branch ``b`` has ``W * 2**b``
channels at stride ``4 * 2**b``; both heads (HRNetV2 style: upsample every branch to stride 4,
concatenate, 1x1 conv + BN + ReLU, 1x1 conv) give ``(N, out, H/4, W/4)`` -- class logits for
segmentation (upsample bilinearly to ``H x W`` for the loss), keypoint heatmaps for pose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...exceptions import InvalidConfigError
from .space import ScaleArch, ScaleSpace

__all__ = [
    "BasicBlock",
    "FlopsTable",
    "ScaleNet",
    "count_flops",
    "count_params",
    "recalibrate_bn",
]


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c)


class BasicBlock(nn.Module):
    """ResNet BasicBlock: ``relu(x + bn(conv3x3(relu(bn(conv3x3(x))))))``, channels kept."""

    def __init__(self, c: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = _bn(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = _bn(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(out)))


def _fusion_path(widths: Sequence[int], k: int, i: int) -> nn.Module:
    """Path from branch ``k`` into branch ``i`` (HRNet's fuse layer)."""
    if k > i:  # lower resolution in: 1x1 conv + BN, then nearest upsampling
        return nn.Sequential(nn.Conv2d(widths[k], widths[i], 1, bias=False), _bn(widths[i]),
                             nn.Upsample(scale_factor=2 ** (k - i), mode="nearest"))
    layers: list[nn.Module] = []  # higher resolution in: (i - k) strided 3x3 convs
    for step in range(i - k):
        last = step == i - k - 1
        cout = widths[i] if last else widths[k]
        layers += [nn.Conv2d(widths[k], cout, 3, stride=2, padding=1, bias=False), _bn(cout)]
        if not last:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         _bn(cout), nn.ReLU())


class _Module(nn.Module):
    """One searchable module: branches of BasicBlocks with fusion rounds after each block."""

    def __init__(self, widths: Sequence[int], nb: int, max_depth: int, arch=None):
        super().__init__()
        self.nb = nb
        depths = arch.depths if arch is not None else (max_depth,) * nb
        self.branches = nn.ModuleList(
            nn.ModuleList(BasicBlock(widths[b]) for _ in range(depths[b])) for b in range(nb))
        self.fuse = nn.ModuleDict()
        rounds = max(depths)
        for j in range(rounds):
            for i in range(nb):
                for k in range(nb):
                    if i != k and (arch is None or arch.fusion[j][i][k]):
                        self.fuse[f"r{j}_{k}to{i}"] = _fusion_path(widths, k, i)

    def forward(self, xs: list[torch.Tensor], arch) -> list[torch.Tensor]:
        for j in range(arch.rounds):
            xs = [self.branches[b][j](x) if j < arch.depths[b] else x for b, x in enumerate(xs)]
            out = []
            for i in range(self.nb):
                y = xs[i]
                fused = False
                for k in range(self.nb):
                    if i != k and arch.fusion[j][i][k]:
                        y = y + self.fuse[f"r{j}_{k}to{i}"](xs[k])
                        fused = True
                out.append(F.relu(y) if fused else y)
            xs = out
        return xs


class ScaleNet(nn.Module):
    """HRNet-like multi-branch network: the supernet (``arch=None``) or one subnet.

    Args:
        space: the :class:`ScaleSpace` (width, modules per stage, depth range).
        out_channels: head outputs (classes for segmentation, keypoints for pose).
        arch: build only this architecture (a stand-alone ScaleNet); ``None``: the supernet.
        head_width: channels of the head's hidden 1x1 conv (default: the concatenated width,
            ``15 W`` for 4 branches, as HRNetV2).

    Call ``net(x)`` for a stand-alone net, ``net(x, arch)`` for the supernet; output
    ``(N, out_channels, H/4, W/4)``.
    """

    def __init__(self, space: ScaleSpace, out_channels: int, arch: ScaleArch | None = None,
                 head_width: int | None = None):
        super().__init__()
        if arch is not None:
            space.validate(arch)
        self.space = space
        self.arch = arch
        self.out_channels = int(out_channels)
        w = space.widths
        self.stem = nn.Sequential(_conv_bn_relu(3, 2 * w[0], 2), _conv_bn_relu(2 * w[0],
                                                                               2 * w[0], 2))
        # transition 1: the stem splits into branches 0 (stride 4) and 1 (stride 8)
        self.transitions = nn.ModuleList([nn.ModuleList([_conv_bn_relu(2 * w[0], w[0], 1),
                                                         _conv_bn_relu(2 * w[0], w[1], 2)])])
        for s in range(1, len(space.modules)):  # each later stage adds a branch from the last
            self.transitions.append(nn.ModuleList([_conv_bn_relu(w[s], w[s + 1], 2)]))
        self.stages = nn.ModuleList()
        n = 0
        for s, count in enumerate(space.modules):
            mods = nn.ModuleList()
            for _ in range(count):
                mods.append(_Module(w, s + 2, space.max_depth,
                                    arch.modules[n] if arch is not None else None))
                n += 1
            self.stages.append(mods)
        total = sum(w[: len(space.modules) + 1])
        hidden = head_width or total
        self.head = nn.Sequential(nn.Conv2d(total, hidden, 1, bias=False), _bn(hidden),
                                  nn.ReLU(), nn.Conv2d(hidden, self.out_channels, 1))

    def forward(self, x: torch.Tensor, arch: ScaleArch | None = None) -> torch.Tensor:
        if arch is None:
            if self.arch is None:
                raise InvalidConfigError("the supernet needs an architecture: call net(x, arch)")
            arch = self.arch
        elif self.arch is not None and arch != self.arch:
            raise InvalidConfigError("a stand-alone ScaleNet runs only its own architecture")
        if x.shape[-1] % 32 or x.shape[-2] % 32:
            raise InvalidConfigError(
                f"input height and width must be multiples of 32, got {tuple(x.shape[-2:])}")
        x = self.stem(x)
        t0 = self.transitions[0]
        xs = [t0[0](x), t0[1](x)]
        n = 0
        for s, mods in enumerate(self.stages):
            if s > 0:
                xs = xs + [self.transitions[s][0](xs[-1])]
            for mod in mods:
                xs = mod(xs, arch.modules[n])
                n += 1
        size = xs[0].shape[-2:]
        feats = [xs[0]] + [F.interpolate(y, size=size, mode="bilinear", align_corners=False)
                           for y in xs[1:]]
        return self.head(torch.cat(feats, dim=1))

    def export(self, arch: ScaleArch) -> ScaleNet:
        """The stand-alone ScaleNet of ``arch`` carrying this supernet's weights (and BN
        running statistics) for its blocks and paths; a deep copy, so training it does not
        touch the supernet. The running statistics are whatever the supernet holds now (the
        last recalibrated subnet's): recalibrate for ``arch`` before exporting, or
        recalibrate the exported net (``evaluate(net, data, task, calib=train)``)."""
        if self.arch is not None:
            raise InvalidConfigError("export works on the supernet (built with arch=None)")
        hidden = self.head[0].out_channels
        sub = ScaleNet(self.space, self.out_channels, arch, head_width=hidden)
        full = self.state_dict()
        sub.load_state_dict({k: full[k].clone() for k in sub.state_dict()})
        return sub


def count_params(module: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def count_flops(module: nn.Module, input_size: tuple[int, int], arch: ScaleArch | None = None
                ) -> int:
    """FLOPs of one ``3 x H x W`` image through ``module`` (``torch.utils.flop_counter``; a
    multiply-add is 2 FLOPs; convolutions and matmuls only, as fvcore/ptflops report).

    Args:
        module: a :class:`ScaleNet` (or any module taking ``(1, 3, H, W)``).
        input_size: ``(H, W)``.
        arch: the architecture, for the supernet.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was = module.training
    module.eval()
    x = torch.zeros(1, 3, *input_size)
    counter = FlopCounterMode(display=False)
    with counter:
        module(x, arch) if arch is not None else module(x)
    module.train(was)
    return int(counter.get_total_flops())


class FlopsTable:
    """Exact FLOPs of any subnet from one counted pass of the largest one.

    FLOPs (convolutions, as :func:`count_flops` counts them) are additive over the parts of a
    :class:`ScaleNet`: the fixed stem, transitions and head, one cost per block of each branch
    and one per fusion path (the same in every round). One ``FlopCounterMode`` pass of the
    supernet's largest architecture, broken down by module, gives every part; a subnet's FLOPs
    are then a sum -- microseconds instead of a forward pass, which the FLOPs-constrained search
    needs for its many rejected candidates. ``tests`` check it against :func:`count_flops`.

    Args:
        supernet: a :class:`ScaleNet` built with ``arch=None``.
        input_size: ``(H, W)``.
    """

    def __init__(self, supernet: ScaleNet, input_size: tuple[int, int]):
        from torch.utils.flop_counter import FlopCounterMode

        space = supernet.space
        largest = space.largest()
        was = supernet.training
        supernet.eval()
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            supernet(torch.zeros(1, 3, *input_size), largest)
        supernet.train(was)
        counts = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
        total = int(counts["Global"])
        root = type(supernet).__name__
        self.block: dict[tuple[int, int, int], int] = {}
        self.path: dict[tuple[int, int, int], int] = {}
        n = 0
        for s, count in enumerate(space.modules):
            for m in range(count):
                prefix = f"{root}.stages.{s}.{m}"
                for b in range(s + 2):
                    self.block[(n, b, 0)] = int(counts.get(f"{prefix}.branches.{b}.0", 0))
                    for i in range(s + 2):
                        if i != b:
                            self.path[(n, b, i)] = int(counts.get(f"{prefix}.fuse.r0_{b}to{i}",
                                                                  0))
                n += 1
        self.base = total - self._parts(largest)
        self.input_size = tuple(input_size)

    def _parts(self, arch: ScaleArch) -> int:
        out = 0
        for n, mod in enumerate(arch.modules):
            for b, d in enumerate(mod.depths):
                out += d * self.block[(n, b, 0)]
            for rnd in mod.fusion:
                for i, row in enumerate(rnd):
                    for k, bit in enumerate(row):
                        if bit:
                            out += self.path[(n, k, i)]
        return out

    def __call__(self, arch: ScaleArch) -> int:
        """FLOPs of one image through ``arch``."""
        return self.base + self._parts(arch)


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[torch.Tensor],
                   arch: ScaleArch | None = None) -> int:
    """Re-estimate every BatchNorm's running mean and variance for one subnet.

    Weight sharing makes the supernet's running statistics a mix over subnets, so ScaleNAS
    (after OFA/BigNAS) resets them and re-estimates them on a few hundred training images
    before each subnet is scored. Running statistics are reset and then accumulated as an
    exact cumulative average (``momentum=None``) over ``batches`` in train mode; no parameter
    changes. The model is left in eval mode.

    Args:
        model: the network.
        batches: image batches ``(B, 3, H, W)``.
        arch: the architecture, for the supernet.

    Returns:
        Images seen.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    seen = 0
    try:
        for x in batches:
            model(x, arch) if arch is not None else model(x)
            seen += int(x.shape[0])
    finally:
        for m, mom in zip(bns, momenta, strict=True):
            m.momentum = mom
        model.eval()
    if seen == 0:
        raise InvalidConfigError("BN recalibration got no images")
    return seen


def param_groups(model: nn.Module) -> list[dict[str, Any]]:
    """Weight decay on conv weights only (BN and biases excluded)."""
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no = [p for n, p in model.named_parameters() if p.ndim <= 1]
    return [{"params": decay}, {"params": no, "weight_decay": 0.0}]


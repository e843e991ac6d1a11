"""The models of the SVD-training recipes: CIFAR ResNet-20 and a small Fashion-MNIST CNN.

Both declare their *filter-prune groups*: ``(conv, bn, next_conv)`` name triples where a conv's
output channels feed only a batch norm and the next conv, so that the L1 filter-pruning baseline
(:func:`carbide.compression.lowrank.prune_filters`) can remove filters physically.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BasicBlock", "CifarResNet", "SmallBNCNN", "build_model", "resnet20", "MODELS"]

#: Recipe models by CLI name.
MODELS: tuple[str, ...] = ("resnet20", "smallcnn")


class BasicBlock(nn.Module):
    """He et al.'s CIFAR basic block: two 3x3 convs with batch norm; when the shape changes the
    shortcut subsamples and pads channels with zeros ("option A", no extra parameters)."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride
        self.pad = planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x
        if self.stride != 1 or self.pad:
            short = x[:, :, :: self.stride, :: self.stride]
            short = F.pad(short, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + short)


class CifarResNet(nn.Module):
    """CIFAR ResNet (He et al., 2016, sec. 4.2): 6n+2 layers, widths 16/32/64, input
    ``(N, 3, 32, 32)``, output logits ``(N, num_classes)``. ``n=3`` is ResNet-20 (0.27 M
    parameters, 41 M multiply-adds)."""

    def __init__(self, n: int = 3, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers: list[nn.Module] = []
        in_planes = 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def filter_prune_groups(self) -> list[tuple[str, str, str]]:
        """The first conv of every block (its filters feed only ``bn1`` and ``conv2``), as in
        Li et al.'s ResNet pruning."""
        return [(f"{layer}.{i}.conv1", f"{layer}.{i}.bn1", f"{layer}.{i}.conv2")
                for layer in ("layer1", "layer2", "layer3")
                for i in range(len(getattr(self, layer)))]


def resnet20(num_classes: int = 10) -> CifarResNet:
    """ResNet-20 for CIFAR-10, the paper's model."""
    return CifarResNet(3, num_classes)


class SmallBNCNN(nn.Module):
    """A small batch-norm CNN for 28x28 grey images (Fashion-MNIST) for quick runs (not the
    federated package's :class:`~carbide.federated.SmallLeafCNN`): three 3x3 conv + BN +
    ReLU stages (32, 64, 64 channels; 2x2 max pooling after the first two), then the flattened
    ``64 x 7 x 7`` map through a 3136 -> 128 -> ``num_classes`` classifier. Input
    ``(N, 1, 28, 28)``; 6.0 M multiply-adds."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = F.relu(self.bn3(self.conv3(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))

    def filter_prune_groups(self) -> list[tuple[str, str, str]]:
        """``conv1 -> conv2`` and ``conv2 -> conv3``."""
        return [("conv1", "bn1", "conv2"), ("conv2", "bn2", "conv3")]


def build_model(name: str, num_classes: int = 10) -> nn.Module:
    """A recipe model by name (one of :data:`MODELS`)."""
    from ...exceptions import InvalidConfigError

    if name == "resnet20":
        return resnet20(num_classes)
    if name == "smallcnn":
        return SmallBNCNN(num_classes)
    raise InvalidConfigError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")

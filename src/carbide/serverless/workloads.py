"""The training workloads: a ResNet-18-style CNN on CIFAR-10 and the LEAF FEMNIST CNN.

Models are picklable zero-argument factories, so a worker function rebuilds the network
from the store's parameters. Normalization layers are GroupNorm, not BatchNorm: a stateless
worker's model state must be its parameters alone (BatchNorm's running statistics are buffers
that no aggregation would carry).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._validate import check_int
from ..exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["DATASETS", "ResNetSpec", "Workload", "load_workload", "resnet18"]

DATASETS: tuple[str, ...] = ("cifar10", "femnist")
_CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
_CIFAR_STD = (0.2470, 0.2435, 0.2616)


def resnet18(width: int = 16, num_classes: int = 10, in_channels: int = 3) -> Any:
    """ResNet-18 (He et al., 2016) for 32x32 inputs: a 3x3 stem, four stages of two basic
    blocks at ``width x (1, 2, 4, 8)`` channels (64 = the original's 11.2M parameters; the
    default 16 has 0.7M), GroupNorm, global average pooling. Input ``(N, 3, 32, 32)``, output
    ``(N, num_classes)``."""
    from torch import nn

    def norm(c: int) -> nn.Module:
        return nn.GroupNorm(min(8, c), c)

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, cout, 3, stride, 1, bias=False), norm(cout), nn.ReLU(),
                nn.Conv2d(cout, cout, 3, 1, 1, bias=False), norm(cout))
            self.skip = (nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), norm(cout)))
            self.act = nn.ReLU()

        def forward(self, x):  # type: ignore[no-untyped-def]
            return self.act(self.body(x) + self.skip(x))

    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
                               norm(width), nn.ReLU()]
    cin = width
    for i, mult in enumerate((1, 2, 4, 8)):
        cout = width * mult
        layers += [Block(cin, cout, 1 if i == 0 else 2), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class ResNetSpec:
    """Picklable recipe of :func:`resnet18`; ``spec()`` builds a fresh model."""

    width: int = 16
    num_classes: int = 10

    def __post_init__(self) -> None:
        check_int("width", self.width, 1)
        check_int("num_classes", self.num_classes, 2)

    def __call__(self) -> Any:
        return resnet18(self.width, self.num_classes)


@dataclass
class Workload:
    """A model factory with its training and test tensors (float32 inputs, int64 labels).

    Attributes:
        shuffle: whether the trainer shuffles ``train`` before cutting it into per-worker data
            shards (``False`` for FEMNIST: the samples are in writer order, so a shard holds
            one writer's handwriting, the natural LEAF split).
        writers: how many writers the FEMNIST training samples come from (else ``None``).
    """

    name: str
    model: Any
    train: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    shuffle: bool = True
    writers: int | None = None


def _subset(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int
            ) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    if n is None or n >= len(y):
        return x, y
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:n]
    return x[idx], y[idx]


def load_workload(dataset: str, root: str | os.PathLike[str] | None = None, *,
                  train_samples: int | None = 2048, test_samples: int | None = 1000,
                  width: int = 16, hidden: int = 2048, seed: int = 0) -> Workload:
    """Load ``"cifar10"`` (with :class:`ResNetSpec` of ``width``, a random subset of each
    split) or ``"femnist"`` (LEAF FEMNIST from the shared data root with the LEAF CNN of
    ``hidden`` dense units, :class:`carbide.federated.ModelSpec`): whole writers, drawn in a
    seeded order until ``train_samples``, kept in writer order (natural writer split:
    ``Workload.shuffle = False``); the test split pools every writer's test samples."""
    import torch

    if dataset not in DATASETS:
        raise InvalidConfigError(f"unknown dataset {dataset!r}; choose one of: "
                                 f"{', '.join(DATASETS)}")
    if dataset == "cifar10":
        from ..datasets import load_cifar10

        mean = torch.tensor(_CIFAR_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(_CIFAR_STD).view(1, 3, 1, 1)
        splits = []
        for split, n in (("train", train_samples), ("test", test_samples)):
            ds = load_cifar10(split, root, progress=False)
            x, y = _subset(ds.images, ds.labels, n, seed)
            splits.append(((x.float() / 255 - mean) / std, y))
        return Workload("cifar10", ResNetSpec(width, 10), splits[0], splits[1])
    from ..datasets import load_femnist
    from ..federated.models import ModelSpec

    fed = load_femnist(root)
    ids = fed.clients
    order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed)).tolist()
    xs, ys, total = [], [], 0
    for k in order:  # whole writers until the subset is full
        x, y = fed.train[ids[k]]
        if not len(y):
            continue
        xs.append(x)
        ys.append(y)
        total += len(y)
        if train_samples is not None and total >= train_samples:
            break
    train = (torch.cat(xs)[:train_samples], torch.cat(ys)[:train_samples])
    tx = torch.cat([v[0] for v in fed.test.values()])
    ty = torch.cat([v[1] for v in fed.test.values()])
    return Workload("femnist", ModelSpec("leaf-cnn", 1, 62, 28, hidden), train,
                    _subset(tx, ty, test_samples, seed), shuffle=False, writers=len(xs))

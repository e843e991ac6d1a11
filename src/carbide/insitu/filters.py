"""The broker's filter step: choose what part of a rank's snapshot travels.

Filters are plain callables ``array -> array`` applied in order before conversion; compose them
with :func:`compose`. The paper's broker selects fields and regions and can downsample; here a
field is chosen by the producer (one :class:`~carbide.insitu.broker.Broker` per field, as the
paper's ``broker_init(field, comm)``), and these cover the spatial part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .._validate import check_int
from ..exceptions import InvalidConfigError

__all__ = ["Crop", "Downsample", "Filter", "compose"]

Filter = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Downsample:
    """Keep every ``stride``-th point along each axis (``stride=1`` keeps everything)."""

    stride: int = 1

    def __post_init__(self) -> None:
        check_int("stride", self.stride, 1)

    def __call__(self, array: np.ndarray) -> np.ndarray:
        if self.stride == 1:
            return array
        return array[(slice(None, None, self.stride),) * array.ndim]


@dataclass(frozen=True)
class Crop:
    """Keep a box of the local array: ``bounds`` is one ``(start, stop)`` pair per axis."""

    bounds: tuple[tuple[int, int], ...]

    def __call__(self, array: np.ndarray) -> np.ndarray:
        if len(self.bounds) != array.ndim:
            raise InvalidConfigError(
                f"Crop bounds {self.bounds} give {len(self.bounds)} axes but the snapshot has "
                f"{array.ndim} (shape {array.shape})")
        for axis, ((lo, hi), n) in enumerate(zip(self.bounds, array.shape, strict=True)):
            if not 0 <= lo < hi <= n:
                raise InvalidConfigError(
                    f"Crop bounds ({lo}, {hi}) on axis {axis} fall outside 0..{n}")
        return array[tuple(slice(lo, hi) for lo, hi in self.bounds)]


def compose(filters: Sequence[Filter]) -> Filter:
    """Apply ``filters`` left to right."""
    filters = tuple(filters)

    def apply(array: np.ndarray) -> np.ndarray:
        for f in filters:
            array = f(array)
        return array

    return apply

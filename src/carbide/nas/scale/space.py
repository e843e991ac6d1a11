"""The ScaleNAS search space: per-branch depths and per-block fusion bits of an HRNet-like net.

ScaleNAS (Cheng et al., "ScaleNAS: One-Shot Learning of Scale-Aware Representations for Visual
Recognition", arXiv 2011.14584) searches, in every module of an HRNet-like backbone, how many
BasicBlocks each parallel branch has and which cross-scale fusions exist after each block.

Layout (fixed, not searched): a stem (two stride-2 3x3 convs) and transitions that add one
branch per stage, so stage ``s`` (``s = 0, 1, 2``) has ``s + 2`` branches at strides
``4, 8, 16, 32`` with widths ``W, 2W, 4W, 8W``. Stage ``s`` has ``modules[s]`` modules.

Searched, per module with ``nb`` branches:

* ``depths``: ``nb`` integers in ``depth_range`` (BasicBlocks per branch; the official space is
  2-5);
* ``fusion``: ``max(depths)`` rounds; round ``j`` runs block ``j`` of every branch that has one,
  then ``fusion[j][i][k] in {0, 1}`` says whether branch ``k`` feeds branch ``i`` (``k != i``;
  the diagonal is always 0). A higher-resolution source comes in through strided 3x3 convs, a
  lower-resolution one through a 1x1 conv + BN + nearest upsampling; the fed branch is
  ``relu(x_i + sum of its switched-on inputs)``.

  Difference from the official code (``superscalenet_seg.py``, read, not copied): there a
  branch that has run all its blocks receives no more fusion (its bits are forced to 0 for
  the remaining rounds); here those bits stay searchable, so this space contains the official
  one. The official sampler also draws every bit with the group's density; ours does too.

:class:`ScaleArch` is the architecture (JSON via :meth:`ScaleArch.to_dict` /
:meth:`ScaleArch.from_dict`); :class:`ScaleSpace` validates, samples, mutates and crosses
architectures (a :class:`carbide.nas.spaces.SearchSpace`, so :mod:`carbide.nas` strategies can
drive it). Samplers for supernet training: :class:`GroupedSampler` (fusion density
{0.2, 0.5, 0.8} x depth range {low, mid, high} plus the sandwich smallest/largest, round-robin)
and :class:`UniformSampler` (the ablation).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..._validate import check_int
from ...exceptions import InvalidArchitectureError, InvalidConfigError
from ..spaces import SearchSpace

__all__ = [
    "DENSITIES",
    "GroupedSampler",
    "ModuleArch",
    "ScaleArch",
    "ScaleSpace",
    "UniformSampler",
    "depth_groups",
    "load_arch",
    "make_sampler",
    "save_arch",
]

#: Fusion densities of the grouped sampler (the official code's groups).
DENSITIES: tuple[float, ...] = (0.2, 0.5, 0.8)


@dataclass(frozen=True)
class ModuleArch:
    """One module: ``depths[b]`` blocks per branch, ``fusion[j][i][k]`` bits per round."""

    depths: tuple[int, ...]
    fusion: tuple[tuple[tuple[int, ...], ...], ...]

    @property
    def branches(self) -> int:
        return len(self.depths)

    @property
    def rounds(self) -> int:
        return max(self.depths)

    def to_dict(self) -> dict[str, Any]:
        return {"depths": list(self.depths),
                "fusion": [[list(row) for row in rnd] for rnd in self.fusion]}


@dataclass(frozen=True)
class ScaleArch:
    """An architecture: one :class:`ModuleArch` per module, stage by stage, in order."""

    modules: tuple[ModuleArch, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``{"modules": [{"depths": [...], "fusion": [[[...]]]}, ...]}``."""
        return {"modules": [m.to_dict() for m in self.modules]}

    @classmethod
    def from_dict(cls, data: Any) -> ScaleArch:
        """Inverse of :meth:`to_dict` (structure only; :meth:`ScaleSpace.validate` checks it)."""
        if isinstance(data, dict) and "arch" in data and "modules" not in data:
            data = data["arch"]
        if not isinstance(data, dict) or not isinstance(data.get("modules"), list):
            raise InvalidArchitectureError(
                f"an architecture is {{'modules': [{{'depths': [...], 'fusion': [...]}}, ...]}}, "
                f"got {str(data)[:120]!r}")
        mods = []
        for n, m in enumerate(data["modules"]):
            if not isinstance(m, dict) or "depths" not in m or "fusion" not in m:
                raise InvalidArchitectureError(
                    f"module {n} needs 'depths' and 'fusion', got {str(m)[:120]!r}")
            try:
                depths = tuple(_as_int(d) for d in m["depths"])
                fusion = tuple(tuple(tuple(_as_int(b) for b in row) for row in rnd)
                               for rnd in m["fusion"])
            except TypeError as exc:
                raise InvalidArchitectureError(f"module {n}: {exc}") from None
            mods.append(ModuleArch(depths, fusion))
        return cls(tuple(mods))

    def key(self) -> str:
        """A compact, unique string (cache key)."""
        parts = []
        for m in self.modules:
            bits = "".join(str(b) for rnd in m.fusion for row in rnd for b in row)
            parts.append("".join(map(str, m.depths)) + ":" + bits)
        return "|".join(parts)

    def fusion_density(self) -> float:
        """Fraction of possible fusion paths switched on."""
        on = total = 0
        for m in self.modules:
            for rnd in m.fusion:
                for i, row in enumerate(rnd):
                    for k, b in enumerate(row):
                        if i != k:
                            on += b
                            total += 1
        return on / total if total else 0.0


def _as_int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"expected an integer, got {v!r}")
    return int(v)


def depth_groups(depth_range: tuple[int, int]) -> tuple[tuple[int, int], ...]:
    """The three depth ranges of the grouped sampler: ``(lo, lo+1), (lo+1, lo+2), (lo+2, lo+3)``
    clipped to ``depth_range`` (``(2, 5)`` gives the official ``2-3, 3-4, 4-5``)."""
    lo, hi = depth_range
    return tuple((min(lo + i, hi), min(lo + i + 1, hi)) for i in range(3))


@dataclass(frozen=True)
class ScaleSpace(SearchSpace):
    """The space (see the module docstring).

    Args:
        width: ``W``, channels of the highest-resolution branch (default 8, CPU-sized; HRNet
            uses 18-48).
        modules: modules per stage for the 2-, 3- and 4-branch stages (default ``(1, 1, 1)``;
            HRNet-W48 has ``(1, 4, 3)``).
        depth_range: inclusive range of BasicBlocks per branch (default ``(2, 5)``, official).
    """

    width: int = 8
    modules: tuple[int, ...] = (1, 1, 1)
    depth_range: tuple[int, int] = (2, 5)
    name: str = field(default="scalenas", init=False)

    def __post_init__(self) -> None:
        check_int("width", self.width, 1)
        if not (isinstance(self.modules, tuple) and 1 <= len(self.modules) <= 3):
            raise InvalidConfigError(
                f"modules must be a tuple of 1-3 counts (stages with 2, 3, 4 branches), got "
                f"{self.modules!r}")
        for m in self.modules:
            check_int("modules[i]", m, 1)
        lo, hi = self.depth_range
        check_int("depth_range[0]", lo, 1)
        check_int("depth_range[1]", hi, lo)

    # -- structure ---------------------------------------------------------------------------
    @property
    def module_branches(self) -> tuple[int, ...]:
        """Branches of each module, in order (e.g. ``(2, 3, 4)``)."""
        return tuple(s + 2 for s, n in enumerate(self.modules) for _ in range(n))

    @property
    def widths(self) -> tuple[int, ...]:
        """Branch widths ``W, 2W, 4W, 8W`` (as many as the last stage has)."""
        return tuple(self.width * 2 ** b for b in range(len(self.modules) + 1))

    @property
    def max_depth(self) -> int:
        return self.depth_range[1]

    # -- validation --------------------------------------------------------------------------
    def validate(self, arch: Any) -> ScaleArch:  # type: ignore[override]
        """Return ``arch`` if it belongs to the space, else raise
        :class:`~carbide.exceptions.InvalidArchitectureError` naming the offending value."""
        if not isinstance(arch, ScaleArch):
            raise InvalidArchitectureError(f"expected a ScaleArch, got {type(arch).__name__}")
        nbs = self.module_branches
        if len(arch.modules) != len(nbs):
            raise InvalidArchitectureError(
                f"architecture has {len(arch.modules)} modules, the space has {len(nbs)} "
                f"(modules per stage {self.modules})")
        lo, hi = self.depth_range
        for n, (m, nb) in enumerate(zip(arch.modules, nbs, strict=True)):
            if len(m.depths) != nb:
                raise InvalidArchitectureError(
                    f"module {n} has {len(m.depths)} depths, its stage has {nb} branches")
            for b, d in enumerate(m.depths):
                if not lo <= d <= hi:
                    raise InvalidArchitectureError(
                        f"module {n} branch {b} depth {d} is outside the space's depth range "
                        f"{lo}-{hi}")
            if len(m.fusion) != m.rounds:
                raise InvalidArchitectureError(
                    f"module {n} has {len(m.fusion)} fusion rounds, expected max(depths) = "
                    f"{m.rounds}")
            for j, rnd in enumerate(m.fusion):
                if len(rnd) != nb or any(len(row) != nb for row in rnd):
                    raise InvalidArchitectureError(
                        f"module {n} fusion round {j} must be a {nb}x{nb} matrix of bits")
                for i, row in enumerate(rnd):
                    for k, bit in enumerate(row):
                        if bit not in (0, 1):
                            raise InvalidArchitectureError(
                                f"module {n} fusion[{j}][{i}][{k}] = {bit} is not a bit "
                                "(0 or 1)")
                        if i == k and bit:
                            raise InvalidArchitectureError(
                                f"module {n} fusion[{j}][{i}][{i}] = 1: a branch does not "
                                "fuse into itself (the diagonal must be 0)")
        return arch

    # -- construction ------------------------------------------------------------------------
    def build(self, depths: Sequence[Sequence[int]], density: float | None = None,
              rng: np.random.Generator | None = None, fill: int = 1) -> ScaleArch:
        """An architecture with these depths per module; fusion bits all ``fill`` or, with
        ``density`` and ``rng``, Bernoulli(``density``)."""
        mods = []
        for d, nb in zip(depths, self.module_branches, strict=True):
            d = tuple(int(x) for x in d)
            rounds = []
            for _ in range(max(d)):
                if density is None:
                    mat = np.full((nb, nb), fill, dtype=int)
                else:
                    mat = (rng.random((nb, nb)) < density).astype(int)
                np.fill_diagonal(mat, 0)
                rounds.append(tuple(tuple(int(b) for b in row) for row in mat))
            mods.append(ModuleArch(d, tuple(rounds)))
        return self.validate(ScaleArch(tuple(mods)))

    def largest(self) -> ScaleArch:
        """Full depth and every fusion: the HRNet-like architecture of the space."""
        return self.build([[self.depth_range[1]] * nb for nb in self.module_branches], fill=1)

    def smallest(self) -> ScaleArch:
        """Least depth and no fusion."""
        return self.build([[self.depth_range[0]] * nb for nb in self.module_branches], fill=0)

    def sample_group(self, rng: np.random.Generator, density: float,
                     depth_range: tuple[int, int]) -> ScaleArch:
        """Depths uniform in ``depth_range``, fusion bits Bernoulli(``density``)."""
        lo, hi = depth_range
        depths = [rng.integers(lo, hi + 1, size=nb).tolist() for nb in self.module_branches]
        return self.build(depths, density=density, rng=rng)

    def sample(self, rng: np.random.Generator) -> ScaleArch:  # type: ignore[override]
        """Uniform over the space: depths uniform, every fusion bit a fair coin."""
        return self.sample_group(rng, 0.5, self.depth_range)

    def mutate(self, arch: ScaleArch, rng: np.random.Generator,  # type: ignore[override]
               bit_rate: float = 0.1, depth_rate: float = 0.2) -> ScaleArch:
        """Fusion-bit mutation (each bit flips with ``bit_rate``) and depth mutation (each
        depth moves by +-1 with ``depth_rate``); always differs from ``arch``."""
        lo, hi = self.depth_range
        for _ in range(100):
            mods = []
            for m in arch.modules:
                depths = []
                for d in m.depths:
                    if rng.random() < depth_rate:
                        d = int(np.clip(d + rng.choice((-1, 1)), lo, hi))
                    depths.append(d)
                fusion = _resize_fusion(m.fusion, max(depths), len(depths), rng)
                fusion = np.array(fusion, dtype=int)
                flips = rng.random(fusion.shape) < bit_rate
                fusion = np.where(flips, 1 - fusion, fusion)
                for j in range(fusion.shape[0]):
                    np.fill_diagonal(fusion[j], 0)
                mods.append(ModuleArch(tuple(depths), _tup3(fusion)))
            child = ScaleArch(tuple(mods))
            if child != arch:
                return self.validate(child)
        raise InvalidConfigError("mutation produced no new architecture in 100 tries; raise "
                                 "bit_rate or depth_rate")

    def crossover(self, a: ScaleArch, b: ScaleArch, rng: np.random.Generator) -> ScaleArch:
        """Per-module crossover: each module (depths and fusion together) from ``a`` or ``b``."""
        mods = tuple(ma if rng.random() < 0.5 else mb
                     for ma, mb in zip(a.modules, b.modules, strict=True))
        return self.validate(ScaleArch(mods))

    def __repr__(self) -> str:
        return (f"ScaleSpace(width={self.width}, modules={self.modules}, "
                f"depth_range={self.depth_range})")


def _tup3(arr: np.ndarray) -> tuple[tuple[tuple[int, ...], ...], ...]:
    return tuple(tuple(tuple(int(b) for b in row) for row in rnd) for rnd in arr)


def _resize_fusion(fusion, rounds: int, nb: int, rng: np.random.Generator) -> list:
    """Keep the first ``rounds`` rounds; new rounds copy the last one (a depth change should not
    rewrite the fusion pattern)."""
    out = [[list(row) for row in rnd] for rnd in fusion[:rounds]]
    while len(out) < rounds:
        out.append([list(row) for row in (out[-1] if out else np.zeros((nb, nb), int))])
    return out


class GroupedSampler:
    """ScaleNAS's grouped sampling with the sandwich rule.

    Each :meth:`next` returns the subnets of one training step: the largest, the smallest, and
    ``per_group`` architectures from the current group; groups (fusion density in
    :data:`DENSITIES` x depth range in :func:`depth_groups`) advance round-robin, so every
    ``len(groups)`` steps visit each group once.

    Args:
        space: the :class:`ScaleSpace`.
        per_group: architectures drawn from the step's group (default 1).
        seed: generator seed.
    """

    name = "grouped"

    def __init__(self, space: ScaleSpace, per_group: int = 1, seed: int = 0):
        self.space = space
        self.per_group = check_int("per_group", per_group, 0)
        self.rng = np.random.default_rng(check_int("seed", seed, 0))
        self.groups = tuple((p, r) for p in DENSITIES for r in depth_groups(space.depth_range))
        self.step = 0

    def next(self) -> list[tuple[str, ScaleArch]]:
        """``[("largest", a), ("smallest", a), ("group:<density>:<lo>-<hi>", a), ...]``."""
        p, r = self.groups[self.step % len(self.groups)]
        self.step += 1
        out = [("largest", self.space.largest()), ("smallest", self.space.smallest())]
        out += [(f"group:{p}:{r[0]}-{r[1]}", self.space.sample_group(self.rng, p, r))
                for _ in range(self.per_group)]
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "step": self.step, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.rng.bit_generator.state = state["rng"]


class UniformSampler(GroupedSampler):
    """The ablation: the same sandwich, but the other subnets drawn uniformly from the space
    (:meth:`ScaleSpace.sample`) instead of from round-robin groups."""

    name = "uniform"

    def next(self) -> list[tuple[str, ScaleArch]]:
        self.step += 1
        out = [("largest", self.space.largest()), ("smallest", self.space.smallest())]
        out += [("uniform", self.space.sample(self.rng)) for _ in range(self.per_group)]
        return out


def make_sampler(name: str, space: ScaleSpace, *, per_group: int = 1, seed: int = 0):
    """``"grouped"`` or ``"uniform"``."""
    if name == "grouped":
        return GroupedSampler(space, per_group, seed)
    if name == "uniform":
        return UniformSampler(space, per_group, seed)
    raise InvalidConfigError(f"unknown sampler {name!r}; choose 'grouped' or 'uniform'")


def save_arch(arch: ScaleArch, path: str | os.PathLike[str]) -> Path:
    """Write ``arch`` as JSON (atomic)."""
    from ..._io import atomic_write

    path = Path(path)
    with atomic_write(path) as fh:
        fh.write(json.dumps(arch.to_dict(), indent=1) + "\n")
    return path


def load_arch(path: str | os.PathLike[str], space: ScaleSpace | None = None) -> ScaleArch:
    """Read an architecture JSON (also accepts a ``pareto.json`` entry's ``{"arch": ...}``),
    validated against ``space`` when given."""
    path = Path(path)
    if not path.is_file():
        raise InvalidConfigError(f"architecture file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidArchitectureError(f"{path} is not valid JSON ({exc})") from None
    arch = ScaleArch.from_dict(data)
    return space.validate(arch) if space is not None else arch


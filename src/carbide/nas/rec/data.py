"""CTR tables for NASRec: categorical ids, dense features, multi-hot bags, a stratified split.

:meth:`TabularCTR.from_dataframe` is the entry point for a user's own table. The conventions
follow the official NASRec data pipeline (facebookresearch/NasRec ``utils/data_pipes.py``,
Criteo/Avazu/KDD): dense values pass through ``log(1 + x)`` (sign-preserving here, so negative
values stay finite) and are standardized with training-split statistics; categorical values map
to ids ``1..K`` learned on the training split, id ``0`` being the out-of-vocabulary bucket
(unseen categories at validation/test time or on new data); a table with more than
``max_table_size`` ids is capped by the hashing trick (``1 + crc32(value) % (cap - 1)``), as the
official code caps tables during search. The split is stratified by label, 8/1/1, seed 2018.

Streaming readers :func:`read_criteo` (Kaggle display-advertising TSV: label, 13 integer and
26 hex categorical fields, no header) and :func:`read_avazu` (CSV with header, label ``click``)
yield pandas chunks, so a user's multi-gigabyte copy is read in pieces (``max_rows`` caps it).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._imports import optional_import
from ..._validate import check_int
from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import torch

__all__ = [
    "AVAZU_LABEL",
    "CRITEO_CATEGORICAL",
    "CRITEO_INTEGER",
    "SPLIT_SEED",
    "TabularCTR",
    "infer_roles",
    "read_avazu",
    "read_criteo",
]

#: The official code's split seed.
SPLIT_SEED = 2018
CRITEO_INTEGER = tuple(f"I{i}" for i in range(1, 14))
CRITEO_CATEGORICAL = tuple(f"C{i}" for i in range(1, 27))
AVAZU_LABEL = "click"
_SPLITS = ("train", "val", "test")


def _pandas():
    return optional_import("pandas", "forecast", purpose="NASRec's CTR tables")


def _stable_hash(value: str) -> int:
    return zlib.crc32(value.encode("utf-8"))


@dataclass
class TabularCTR:
    """A CTR table encoded for embedding models.

    Attributes:
        sparse: int64 ``(n, S)``: ids per sparse field, ``0`` = out of vocabulary.
        dense: float32 ``(n, D)``: log1p-transformed, standardized dense fields.
        multi_hot: int64 ``(n, M, L)``: up to ``L`` ids per multi-hot field, padded with
            ``0`` (the ``EmbeddingBag`` padding index; ids start at 1).
        label: float32 ``(n,)`` in {0, 1}.
        splits: ``{"train", "val", "test"}`` -> int64 row indices.
        sparse_fields, dense_fields, multi_hot_fields, label_field: column names.
        vocab_sizes: embedding-table rows per sparse field (OOV row included).
        bag_sizes: table rows per multi-hot field (padding row included).
        nan_counts: NaNs imputed per dense field (0 when none).
        vocabs, dense_stats, bag_vocabs, max_table_size: what :meth:`transform` reuses.
    """

    sparse: np.ndarray
    dense: np.ndarray
    multi_hot: np.ndarray
    label: np.ndarray
    splits: dict[str, np.ndarray]
    sparse_fields: tuple[str, ...]
    dense_fields: tuple[str, ...]
    multi_hot_fields: tuple[str, ...]
    label_field: str
    vocab_sizes: tuple[int, ...]
    bag_sizes: tuple[int, ...]
    nan_counts: dict[str, int] = field(default_factory=dict)
    vocabs: list[dict[str, int] | None] = field(default_factory=list, repr=False)
    bag_vocabs: list[dict[str, int]] = field(default_factory=list, repr=False)
    dense_stats: list[tuple[float, float, float]] = field(default_factory=list, repr=False)
    max_table_size: int = 1_000_000

    def __len__(self) -> int:
        return int(self.label.shape[0])

    @property
    def num_dense(self) -> int:
        return int(self.dense.shape[1])

    @property
    def num_tokens(self) -> int:
        """Sparse tokens a model sees per row: one per sparse and per multi-hot field."""
        return len(self.sparse_fields) + len(self.multi_hot_fields)

    def positive_rate(self, split: str = "train") -> float:
        """Fraction of clicks in ``split``."""
        return float(self.label[self._split(split)].mean())

    def _split(self, split: str) -> np.ndarray:
        if split not in self.splits:
            raise InvalidConfigError(f"unknown split {split!r}; choose one of {list(self.splits)}")
        return self.splits[split]

    def tensors(self, split: str) -> dict[str, torch.Tensor]:
        """One split as torch tensors: ``sparse`` ``(n, S)``, ``dense`` ``(n, D)``,
        ``multi_hot`` ``(n, M, L)``, ``label`` ``(n,)``."""
        import torch

        idx = self._split(split)
        return {"sparse": torch.from_numpy(self.sparse[idx]),
                "dense": torch.from_numpy(self.dense[idx]),
                "multi_hot": torch.from_numpy(self.multi_hot[idx]),
                "label": torch.from_numpy(self.label[idx])}

    def subsample(self, rows: int, seed: int = SPLIT_SEED) -> TabularCTR:
        """The same encoding restricted to ``rows`` random rows of each split in proportion
        (for quick runs); vocabularies are kept so models stay comparable."""
        rows = check_int("rows", rows, 3)
        if rows >= len(self):
            return self
        rng = np.random.default_rng(seed)
        frac = rows / len(self)
        splits = {}
        for name, idx in self.splits.items():
            k = max(1, int(round(len(idx) * frac)))
            splits[name] = np.sort(rng.choice(idx, size=k, replace=False))
        return _replace(self, splits=splits)

    # ---------------------------------------------------------------- construction

    @classmethod
    def from_dataframe(
        cls, df: pd.DataFrame, *, sparse: Sequence[str] = (), dense: Sequence[str] = (),
        multi_hot: Sequence[str] = (), label: str, strict: bool = False,
        max_table_size: int = 1_000_000, seed: int = SPLIT_SEED,
        fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    ) -> TabularCTR:
        """Encode a user's table.

        Args:
            df: a pandas DataFrame with one row per impression.
            sparse: categorical columns (any values; compared as strings).
            dense: numeric columns (NaN allowed unless ``strict``).
            multi_hot: columns whose cells are lists/tuples of categories (or space-separated
                strings); each becomes one ``EmbeddingBag`` token.
            label: the binary click column (0/1 or booleans).
            strict: raise on NaN in a dense field instead of imputing it (the training
                median) and counting it in :attr:`nan_counts`.
            max_table_size: cap on a table's rows; bigger vocabularies are hashed.
            seed: split seed (2018 as in the official code).
            fractions: train/val/test fractions (sum 1).

        Raises:
            InvalidConfigError: a column is missing or named twice, no feature column, a
                non-binary label, a NaN in a dense field under ``strict``, non-numeric dense
                values, or a split that would be empty.
        """
        pd = _pandas()
        if not isinstance(df, pd.DataFrame):
            raise InvalidConfigError(f"df must be a pandas DataFrame, got {type(df).__name__}")
        sparse, dense, multi_hot = tuple(sparse), tuple(dense), tuple(multi_hot)
        if not (sparse or dense or multi_hot):
            raise InvalidConfigError("give at least one sparse, dense or multi_hot column")
        names = sparse + dense + multi_hot + (label,)
        missing = [c for c in names if c not in df.columns]
        if missing:
            raise InvalidConfigError(
                f"column(s) {missing} not in the table; its columns are {list(df.columns)}"
            )
        dup = sorted({c for c in names if names.count(c) > 1})
        if dup:
            raise InvalidConfigError(f"column(s) {dup} given in more than one role")
        check_int("max_table_size", max_table_size, 2)
        if len(fractions) != 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
            raise InvalidConfigError(f"fractions must be three positive numbers summing to 1, "
                                     f"got {fractions}")
        y = _binary_label(df[label], label)
        splits = _stratified_split(y, fractions, seed)
        train = splits["train"]
        # Vocabularies and statistics from the training split only.
        vocabs, sp = [], np.zeros((len(df), len(sparse)), dtype=np.int64)
        for j, col in enumerate(sparse):
            values = df[col].astype(str).to_numpy()
            vocab = _build_vocab(values[train], max_table_size)
            vocabs.append(vocab)
            sp[:, j] = _encode(values, vocab, max_table_size)
        stats, dn, nan_counts = [], np.zeros((len(df), len(dense)), dtype=np.float32), {}
        for j, col in enumerate(dense):
            x = _numeric(df[col], col)
            nans = int(np.isnan(x).sum())
            if nans and strict:
                raise InvalidConfigError(
                    f"dense field {col!r} has {nans} NaN value(s); impute them or pass "
                    f"strict=False to impute the training median"
                )
            nan_counts[col] = nans
            median = float(np.nanmedian(x[train])) if np.isfinite(x[train]).any() else 0.0
            z = _log1p(np.where(np.isnan(x), median, x))
            mean, std = float(z[train].mean()), float(z[train].std())
            stats.append((median, mean, std if std > 0 else 1.0))
            dn[:, j] = (z - mean) / stats[-1][2]
        bag_vocabs, bags = [], []
        for col in multi_hot:
            lists = [_as_list(v) for v in df[col]]
            counts: dict[str, int] = {}
            for i in train:
                for v in lists[i]:
                    counts[v] = counts.get(v, 0) + 1
            vocab = {v: k + 1 for k, v in enumerate(sorted(counts, key=lambda v: (-counts[v], v)))}
            bag_vocabs.append(vocab)
            bags.append(lists)
        width = max((len(x) for lists in bags for x in lists), default=0)
        mh = np.zeros((len(df), len(multi_hot), max(width, 1)), dtype=np.int64)
        for m, lists in enumerate(bags):
            # Unseen values in a bag map to the bag's OOV id, the last row of its table.
            oov = len(bag_vocabs[m]) + 1
            for i, items in enumerate(lists):
                for k, v in enumerate(items):
                    mh[i, m, k] = bag_vocabs[m].get(v, oov)
        return cls(
            sparse=sp, dense=dn, multi_hot=mh, label=y, splits=splits, sparse_fields=sparse,
            dense_fields=dense, multi_hot_fields=multi_hot, label_field=label,
            vocab_sizes=tuple(_table_rows(v, max_table_size) for v in vocabs),
            bag_sizes=tuple(len(v) + 2 for v in bag_vocabs), nan_counts=nan_counts,
            vocabs=vocabs, bag_vocabs=bag_vocabs, dense_stats=stats,
            max_table_size=max_table_size,
        )

    @classmethod
    def from_criteo(cls, path: str | os.PathLike[str], *, max_rows: int | None = None,
                    **kwargs: Any) -> TabularCTR:
        """Read a Criteo Kaggle TSV (:func:`read_criteo`) and encode it."""
        pd = _pandas()
        df = pd.concat(list(read_criteo(path, max_rows=max_rows)), ignore_index=True)
        return cls.from_dataframe(df, sparse=CRITEO_CATEGORICAL, dense=CRITEO_INTEGER,
                                  label="label", **kwargs)

    @classmethod
    def from_avazu(cls, path: str | os.PathLike[str], *, max_rows: int | None = None,
                   **kwargs: Any) -> TabularCTR:
        """Read an Avazu CSV (:func:`read_avazu`) and encode it (all fields sparse)."""
        pd = _pandas()
        df = pd.concat(list(read_avazu(path, max_rows=max_rows)), ignore_index=True)
        sparse = [c for c in df.columns if c not in ("id", AVAZU_LABEL)]
        return cls.from_dataframe(df, sparse=sparse, label=AVAZU_LABEL, **kwargs)

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str], *, label: str,
                 sparse: Sequence[str] | None = None, dense: Sequence[str] | None = None,
                 max_rows: int | None = None, **kwargs: Any) -> TabularCTR:
        """Read a CSV with a header; columns not given are typed by :func:`infer_roles`."""
        from ...exceptions import DatasetNotFoundError

        pd = _pandas()
        if not os.path.isfile(path):
            raise DatasetNotFoundError(f"{path} not found: give the path of your CSV file")
        df = pd.read_csv(path, nrows=max_rows)
        if sparse is None and dense is None:
            sparse, dense = infer_roles(df, label)
        return cls.from_dataframe(df, sparse=sparse or (), dense=dense or (), label=label,
                                  **kwargs)


def _replace(data: TabularCTR, **changes: Any) -> TabularCTR:
    import dataclasses

    return dataclasses.replace(data, **changes)


def infer_roles(df: pd.DataFrame, label: str, *,
                max_int_levels: int = 50) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Type CSV columns: object/bool columns or integers with at most ``max_int_levels``
    distinct values are sparse; other numeric columns dense. Returns ``(sparse, dense)``."""
    if label not in df.columns:
        raise InvalidConfigError(
            f"label column {label!r} not in the table; its columns are {list(df.columns)}"
        )
    sparse, dense = [], []
    for col in df.columns:
        if col == label:
            continue
        s = df[col]
        kind = s.dtype.kind
        if kind in "iu" and s.nunique(dropna=True) <= max_int_levels:
            sparse.append(col)
        elif kind in "iuf":
            dense.append(col)
        else:
            sparse.append(col)
    return tuple(sparse), tuple(dense)


def _binary_label(series: pd.Series, name: str) -> np.ndarray:
    if series.isna().any():
        raise InvalidConfigError(f"label {name!r} has {int(series.isna().sum())} missing value(s)")
    values = series.to_numpy()
    if values.dtype == bool:
        return values.astype(np.float32)
    try:
        y = values.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidConfigError(
            f"label {name!r} must be binary 0/1, got values like "
            f"{sorted(set(map(str, values)))[:5]}"
        ) from None
    bad = sorted(set(np.unique(y).tolist()) - {0.0, 1.0})
    if bad:
        raise InvalidConfigError(
            f"label {name!r} must be binary 0/1, found other values {bad[:5]}; "
            f"threshold it first (e.g. click = rating >= 4)"
        )
    return y.astype(np.float32)


def _stratified_split(y: np.ndarray, fractions: Sequence[float],
                      seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {s: [] for s in _SPLITS}
    for cls_value in (0.0, 1.0):
        idx = rng.permutation(np.flatnonzero(y == cls_value))
        n_train = int(round(len(idx) * fractions[0]))
        n_val = int(round(len(idx) * fractions[1]))
        parts["train"].append(idx[:n_train])
        parts["val"].append(idx[n_train:n_train + n_val])
        parts["test"].append(idx[n_train + n_val:])
    out = {s: np.sort(np.concatenate(p)).astype(np.int64) for s, p in parts.items()}
    empty = [s for s in _SPLITS if len(out[s]) == 0]
    if empty:
        raise InvalidConfigError(
            f"split(s) {empty} would be empty with {len(y)} rows and fractions "
            f"{tuple(fractions)}; give more rows"
        )
    return out


def _build_vocab(values: np.ndarray, cap: int) -> dict[str, int] | None:
    uniq, counts = np.unique(values, return_counts=True)
    if len(uniq) + 1 > cap:
        return None  # hashed
    order = np.lexsort((uniq, -counts))
    return {str(uniq[k]): i + 1 for i, k in enumerate(order)}


def _encode(values: np.ndarray, vocab: dict[str, int] | None, cap: int) -> np.ndarray:
    if vocab is None:
        return np.array([1 + _stable_hash(str(v)) % (cap - 1) for v in values], dtype=np.int64)
    return np.array([vocab.get(str(v), 0) for v in values], dtype=np.int64)


def _table_rows(vocab: dict[str, int] | None, cap: int) -> int:
    return cap if vocab is None else len(vocab) + 1


def _numeric(series: pd.Series, name: str) -> np.ndarray:
    pd = _pandas()
    x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(x) & series.notna().to_numpy()
    if bad.any():
        raise InvalidConfigError(
            f"dense field {name!r} has non-numeric value(s) such as "
            f"{series[bad].iloc[0]!r}; declare it sparse instead"
        )
    return x


def _log1p(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _as_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(value.split())
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ()
    return tuple(str(v) for v in value)


# ------------------------------------------------------------------- streaming readers


def read_criteo(path: str | os.PathLike[str], *, chunk_rows: int = 100_000,
                max_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """Stream the Criteo Kaggle TSV (``train.txt``): no header, tab-separated ``label``,
    ``I1..I13`` (integers, empty = NaN), ``C1..C26`` (hex strings, empty = ``""``).

    Yields DataFrames of at most ``chunk_rows`` rows (``max_rows`` stops early).

    Raises:
        DatasetNotFoundError: the file does not exist.
        InvalidConfigError: a line does not have 40 fields.
    """
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as fh:
            first = fh.readline().rstrip("\n")
        fields = len(first.split("\t"))
        if first and fields != 40:
            raise InvalidConfigError(
                f"{path} is not a Criteo Kaggle TSV: its first line has {fields} tab-separated "
                f"fields, expected 40 (label, I1..I13, C1..C26)"
            )
    yield from _stream(path, chunk_rows, max_rows, sep="\t", header=None,
                       names=("label",) + CRITEO_INTEGER + CRITEO_CATEGORICAL,
                       dtype={**{c: str for c in CRITEO_CATEGORICAL}, "label": "int64"},
                       what="Criteo Kaggle TSV (label, I1..I13, C1..C26)")


def read_avazu(path: str | os.PathLike[str], *, chunk_rows: int = 100_000,
               max_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """Stream an Avazu CSV (header ``id,click,hour,C1,banner_pos,...``). ``hour``
    (``YYMMDDHH``) is replaced by ``hour_of_day`` and ``weekday`` (both categorical); every
    other column is read as a string.

    Raises:
        DatasetNotFoundError: the file does not exist.
        InvalidConfigError: no ``click`` column.
    """
    for chunk in _stream(path, chunk_rows, max_rows, sep=",", header=0, names=None,
                         dtype=str, what="Avazu CSV (id,click,hour,...)"):
        if AVAZU_LABEL not in chunk.columns:
            raise InvalidConfigError(
                f"{path}: no {AVAZU_LABEL!r} column in the Avazu CSV header {list(chunk.columns)}"
            )
        chunk[AVAZU_LABEL] = chunk[AVAZU_LABEL].astype("int64")
        if "hour" in chunk.columns:
            pd = _pandas()
            stamp = pd.to_datetime(chunk["hour"], format="%y%m%d%H")
            chunk["hour_of_day"] = stamp.dt.hour.astype(str)
            chunk["weekday"] = stamp.dt.day_of_week.astype(str)
            chunk = chunk.drop(columns=["hour"])
        yield chunk


def _stream(path, chunk_rows, max_rows, *, sep, header, names, dtype, what):
    from ...exceptions import DatasetNotFoundError

    pd = _pandas()
    check_int("chunk_rows", chunk_rows, 1)
    if max_rows is not None:
        check_int("max_rows", max_rows, 1)
    if not os.path.isfile(path):
        raise DatasetNotFoundError(
            f"{path} not found: point at your copy of the {what} (it cannot be redistributed)"
        )
    left = max_rows
    try:
        reader = pd.read_csv(path, sep=sep, header=header, names=names, dtype=dtype,
                             chunksize=chunk_rows, keep_default_na=False,
                             na_values={c: [""] for c in CRITEO_INTEGER} if names else None)
        for chunk in reader:
            if left is not None:
                chunk = chunk.iloc[:left]
                left -= len(chunk)
            yield chunk
            if left is not None and left <= 0:
                return
    except (pd.errors.ParserError, ValueError) as exc:
        raise InvalidConfigError(f"{path} is not a {what}: {exc}") from exc

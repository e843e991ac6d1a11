"""Planetoid citation graphs (Cora, CiteSeer) with the standard public split.

Source: the original ``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}`` pickles of
kimiyoung/planetoid (MIT; LINQS citation data), laid out as torch_geometric's
``Planetoid(root, name)`` expects them: ``<root>/planetoid/<Cora|CiteSeer>/raw/``. They are parsed
with torch_geometric's own raw reader, so the result is the graph ``Planetoid`` gives (without
transforms). Needs the ``graph`` extra (torch_geometric) and scipy (the pickles hold scipy sparse
matrices).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._imports import optional_import
from ..exceptions import DatasetCorruptError, InvalidConfigError
from ._root import dataset_files, get_info

if TYPE_CHECKING:  # pragma: no cover
    from torch_geometric.data import Data

__all__ = ["PLANETOID_NAMES", "load_planetoid",]

#: Lower-case dataset name -> folder name under ``<root>/planetoid``.
PLANETOID_NAMES: dict[str, str] = {"cora": "Cora", "citeseer": "CiteSeer"}

_SUFFIXES = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
# torch_geometric's reader hard-codes the public split's 500 validation nodes, which follow the
# labelled training nodes; a graph with fewer nodes than that cannot be split.
_NUM_VAL = 500


def _check_name(name: str) -> str:
    key = name.lower() if isinstance(name, str) else name
    if key not in PLANETOID_NAMES:
        raise InvalidConfigError(
            f"unknown Planetoid dataset {name!r}; choose one of: {', '.join(PLANETOID_NAMES)}"
        )
    return key


def _corrupt(name: str, path: Path | str, what: str) -> DatasetCorruptError:
    return DatasetCorruptError(
        f"dataset {name!r}: cannot read {path}: {what}; damaged or not the original Planetoid "
        f"files: fetch them again from {get_info(name).source}"
    )


def load_planetoid(
    name: str, root: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> Data:
    """Load Cora or CiteSeer as one ``torch_geometric.data.Data`` graph.

    The standard public Planetoid split (Yang et al., 2016): the first ``20 * num_classes``
    nodes train, the next 500 validate, the 1000 nodes of ``test.index`` test. CiteSeer has 15
    isolated nodes missing from the test files; like torch_geometric they get zero features,
    label 0 and no mask.

    The files are pickles, and unpickling can run code: load only files you trust
    (``verify=True`` accepts only the published versions).

    Args:
        name: ``"cora"`` or ``"citeseer"`` (case-insensitive).
        root: data root (``root`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``); the files
            are read from ``<root>/planetoid/<Cora|CiteSeer>/raw/``.
        verify: check the files' SHA-256 sums against the packaged manifest first.

    Returns:
        A ``Data`` with ``x`` float32 ``[N, F]`` (bag-of-words, 0/1), ``edge_index`` int64
        ``[2, E]`` (undirected: both directions present, coalesced, no self-loops), ``y`` int64
        ``[N]`` in ``0 .. C - 1``, and bool ``[N]`` ``train_mask``/``val_mask``/``test_mask``.
        Cora: N=2708, F=1433, C=7, E=10556, split 140/500/1000. CiteSeer: N=3327, F=3703, C=6,
        E=9104, split 120/500/1000.

    Raises:
        InvalidConfigError: ``name`` is not one of the choices.
        DatasetNotFoundError: a file is missing (the message names it and the source).
        DatasetCorruptError: a file fails its checksum or cannot be parsed.
        MissingDependencyError: torch_geometric or scipy is not installed.
    """
    key = _check_name(name)
    files = dataset_files(key, root, verify=verify)
    raw_dir = next(iter(files.values())).parent
    pyg_io = optional_import("torch_geometric.io", "graph", purpose="load_planetoid")
    # unpickling x/tx/allx needs scipy.sparse; import it here so its absence is named, not
    # reported as a damaged file
    optional_import("scipy.sparse", "graph", purpose="load_planetoid (scipy matrices in pickles)")
    try:
        data = pyg_io.read_planetoid_data(str(raw_dir), key)
    except Exception as exc:  # the reader reads all 8 files; find the one that is bad
        raise _locate_failure(key, raw_dir, exc) from exc
    _check_graph(key, raw_dir, data)
    return data


def _locate_failure(name: str, raw_dir: Path, exc: BaseException) -> DatasetCorruptError:
    """The error for a failed read, naming the file that does not parse when there is one."""
    from torch_geometric.io.planetoid import read_file

    for suffix in _SUFFIXES:
        try:
            read_file(str(raw_dir), name, suffix)
        except Exception as file_exc:
            return _corrupt(name, raw_dir / f"ind.{name}.{suffix}", _describe(file_exc))
    # every file parses on its own, so they disagree with each other (row counts, indices)
    return _corrupt(
        name, raw_dir, f"the files do not fit together ({_describe(exc)}); "
        f"the standard split also needs at least {_NUM_VAL} nodes after the training nodes",
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _check_graph(name: str, raw_dir: Path, data: Data) -> None:
    """Shape checks the reader does not do (it trusts the files)."""
    import torch

    n = int(data.y.size(0))
    if data.x.dim() != 2 or data.x.size(0) != n:
        raise _corrupt(
            name, raw_dir, f"{tuple(data.x.shape)} feature rows for {n} labels (x/allx/tx vs "
            "y/ally/ty)",
        )
    ei = data.edge_index
    graph_file = raw_dir / f"ind.{name}.graph"
    if ei.dtype != torch.long or ei.dim() != 2 or ei.size(0) != 2:
        raise _corrupt(name, graph_file, f"edge index of shape {tuple(ei.shape)}")
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= n):
        raise _corrupt(
            name, graph_file,
            f"edges reach node {int(ei.max())} but the feature files have {n} nodes",
        )
    seen = data.train_mask & data.val_mask
    overlap = seen | (data.test_mask & (data.train_mask | data.val_mask))
    if bool(overlap.any()):
        raise _corrupt(
            name, raw_dir, f"train/val/test masks overlap on {int(overlap.sum())} nodes "
            f"(the standard split needs at least {_NUM_VAL} nodes between the training "
            "nodes and the test nodes)",
        )

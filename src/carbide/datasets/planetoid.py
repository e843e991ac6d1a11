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

__all__ = ["PLANETOID_NAMES", "load_planetoid", "write_planetoid_fixture"]

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


def write_planetoid_fixture(
    root: str | os.PathLike[str],
    name: str = "cora",
    *,
    num_features: int = 12,
    num_classes: int = 3,
    train_per_class: int = 2,
    num_unlabeled: int = 6,
    num_test: int = 12,
    seed: int = 0,
) -> Path:
    """Write a tiny synthetic Planetoid dataset in the original pickle layout.

    Writes ``<root>/planetoid/<Cora|CiteSeer>/raw/ind.<name>.*`` like the originals: scipy CSR
    ``float32`` matrices for ``x``/``tx``/``allx``, one-hot ``int32`` arrays for
    ``y``/``ty``/``ally``, a ``defaultdict(list)`` adjacency for ``graph`` (symmetric, with one
    duplicate edge and one self-loop that the reader drops), a shuffled text ``test.index``;
    pickle protocol 2. Node ``i`` has label ``i % num_classes`` and feature ``label`` set, so
    labels can be checked against features. For ``"citeseer"`` two ids inside the test range
    are left out of ``test.index`` (isolated nodes, as in the real CiteSeer).

    Because the standard split always takes 500 validation nodes after the training nodes, the
    graph has ``num_classes * train_per_class + 500 + num_unlabeled + num_test`` nodes
    (+2 for CiteSeer); with the defaults 524 (526), a few kB on disk.

    Args:
        root: data root to write under (created if needed).
        name: ``"cora"`` or ``"citeseer"``.
        num_features: feature columns (at least ``num_classes``).
        num_classes: number of classes.
        train_per_class: labelled training nodes per class.
        num_unlabeled: nodes in ``allx`` after the validation nodes.
        num_test: test nodes.
        seed: seed of the random edges and extra features.

    Returns:
        The ``raw`` folder written.
    """
    import pickle
    from collections import defaultdict

    import numpy as np
    import scipy.sparse as sp

    key = _check_name(name)
    if num_features < num_classes or num_classes < 2 or train_per_class < 1 or num_test < 1:
        raise InvalidConfigError(
            f"need num_classes >= 2, num_features >= num_classes, train_per_class >= 1 and "
            f"num_test >= 1; got {num_classes}, {num_features}, {train_per_class}, {num_test}"
        )
    rng = np.random.default_rng(seed)
    n_train = num_classes * train_per_class
    n_all = n_train + _NUM_VAL + num_unlabeled
    gaps = 2 if key == "citeseer" else 0
    n = n_all + num_test + gaps

    labels = np.arange(n) % num_classes
    feats = (rng.random((n, num_features)) < 0.2).astype(np.float32)
    feats[np.arange(n), labels] = 1.0
    onehot = np.eye(num_classes, dtype=np.int32)[labels]

    test_range = np.arange(n_all, n)
    isolated = test_range[1 : 1 + gaps * 3 : 3]  # two ids strictly inside the range
    test_ids = rng.permutation(np.setdiff1d(test_range, isolated))

    # every node is a key, as in the originals
    graph: defaultdict[int, list[int]] = defaultdict(list, {i: [] for i in range(n)})
    connected = np.setdiff1d(np.arange(n), isolated)
    for i, j in zip(connected[:-1], connected[1:], strict=True):  # a path: no isolated nodes
        graph[int(i)].append(int(j))
        graph[int(j)].append(int(i))
    for _ in range(n):
        i, j = (int(v) for v in rng.choice(connected, size=2, replace=False))
        if j not in graph[i]:
            graph[i].append(j)
            graph[j].append(i)
    first = int(connected[0])
    graph[first].append(graph[first][0])  # a duplicate, dropped by coalescing
    graph[first].append(first)  # a self-loop, dropped by the reader

    raw = Path(root) / "planetoid" / PLANETOID_NAMES[key] / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    # row k of tx/ty belongs to node test.index[k] (the ids are shuffled, as in the originals)
    objects = {
        "x": sp.csr_matrix(feats[:n_train]),
        "y": onehot[:n_train],
        "allx": sp.csr_matrix(feats[:n_all]),
        "ally": onehot[:n_all],
        "tx": sp.csr_matrix(feats[test_ids]),
        "ty": onehot[test_ids],
        "graph": graph,
    }
    for suffix, obj in objects.items():
        with open(raw / f"ind.{key}.{suffix}", "wb") as fh:
            pickle.dump(obj, fh, protocol=2)
    (raw / f"ind.{key}.test.index").write_text(
        "".join(f"{int(i)}\n" for i in test_ids), encoding="ascii"
    )
    return raw

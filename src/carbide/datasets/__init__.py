"""Local-root dataset loaders, one module per dataset family.

Every loader reads from the data root (``root=`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``),
checks the files against the packaged SHA-256 manifest (``verify=True``), never writes into the
root, and raises :class:`~carbide.exceptions.DatasetNotFoundError` naming the path and the
source when a file is missing (:class:`~carbide.exceptions.DatasetCorruptError` when damaged).
Loaders never download: only :func:`download_datasets` (``carbide data download``) fetches, from
each dataset's upstream source (:data:`SOURCES`) or a mirror of the root, checksum-verified.

Names are resolved lazily so that ``import carbide.datasets`` stays free of torch.
"""

from __future__ import annotations

from .._lazy import lazy_exports
from ._root import (
    DATASETS,
    DatasetInfo,
    FileCheck,
    cache_dir,
    data_root,
    dataset_files,
    get_info,
    verify_dataset,
)

_LAZY = {
    "ImageDataset": "._types",
    "FederatedDataset": "._types",
    "load_planetoid": ".planetoid",
    "load_fashion_mnist": ".fashion_mnist",
    "read_idx": ".fashion_mnist",
    "load_cifar10": ".cifar10",
    "load_femnist": ".femnist",
    "load_leaf": ".femnist",
    "NASBench201": ".nasbench",
    "NASBench101": ".nasbench",
    "load_pv": ".pv",
    "align_pv": ".pv",
    "FlowSnapshots": ".openfoam",
    "load_openfoam_buildings": ".openfoam",
    "read_openfoam_csv": ".openfoam",
    "DownloadResult": "._download",
    "download_datasets": "._download",
    "SOURCES": "._sources",
    "Source": "._sources",
    "Artifact": "._sources",
    "get_source": "._sources",
    "load_movielens_ctr": ".movielens",
    "MOVIELENS_CTR_FIELDS": ".movielens",
}

__all__ = [
    "DATASETS",
    "SOURCES",
    "Artifact",
    "DatasetInfo",
    "DownloadResult",
    "FederatedDataset",
    "FileCheck",
    "FlowSnapshots",
    "MOVIELENS_CTR_FIELDS",
    "ImageDataset",
    "Source",
    "NASBench101",
    "NASBench201",
    "align_pv",
    "cache_dir",
    "data_root",
    "dataset_files",
    "download_datasets",
    "get_info",
    "get_source",
    "load_cifar10",
    "load_fashion_mnist",
    "load_femnist",
    "load_leaf",
    "load_movielens_ctr",
    "load_openfoam_buildings",
    "load_planetoid",
    "load_pv",
    "read_idx",
    "read_openfoam_csv",
    "verify_dataset",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)

"""A torch_geometric ``FeatureStore`` that keeps features quantized.

PyG loaders and models that read features through the ``FeatureStore`` interface
(``store[group, name, index]``, ``get_tensor``, ``multi_get_tensor``) get dequantized float32
rows; only codes are held. Paper: BiFeat, arXiv 2207.14696.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._imports import optional_import
from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["QuantizedFeatureStore"]

_fs = optional_import("torch_geometric.data.feature_store", "graph",
                      purpose="carbide.compression.featquant.store")


class QuantizedFeatureStore(_fs.FeatureStore):
    """Feature store whose tensors are quantized on ``put`` and dequantized on ``get``.

    Args:
        method: ``"sq"``, ``"vq"`` or ``"none"`` (fp32, the baseline).
        device: where gathered rows are decoded and returned (default CPU).
        **quantize_kwargs: passed to :func:`~carbide.compression.featquant.quantize`
            (``bits``, ``width``, ``codebook``, ``seed``, ...).

    ``put_tensor`` takes a float ``(N, D)`` tensor for a whole attribute (``index=None``), or an
    already built ``QuantizedFeatures`` / ``DenseFeatures``. Writing a subset of rows is not
    supported (codes are fitted on the whole matrix): such a put raises ``InvalidConfigError``.
    ``get_tensor`` with an index tensor returns those rows, with ``None`` or ``:`` all rows.
    """

    def __init__(self, method: str = "sq", *, device: str | torch.device | None = None,
                 **quantize_kwargs: Any) -> None:
        from .quantized import METHODS

        if method not in (*METHODS, "none"):
            raise InvalidConfigError(
                f"unknown quantization method {method!r}; choose one of "
                f"{', '.join((*METHODS, 'none'))}"
            )
        super().__init__()
        self.method = method
        self.device = device
        self.quantize_kwargs = quantize_kwargs
        self._store: dict[tuple[Any, Any], Any] = {}

    @staticmethod
    def _key(attr: Any) -> tuple[Any, Any]:
        return (attr.group_name, attr.attr_name)

    def features(self, group_name: Any = None, attr_name: str = "x") -> Any:
        """The ``QuantizedFeatures`` (or ``DenseFeatures``) behind one attribute."""
        try:
            return self._store[(group_name, attr_name)]
        except KeyError:
            raise KeyError(f"no tensor stored for group {group_name!r}, attribute "
                           f"{attr_name!r}") from None

    @property
    def nbytes(self) -> int:
        """Bytes held by every stored attribute (codes, tables, metadata)."""
        return sum(f.nbytes for f in self._store.values())

    def _put_tensor(self, tensor: Any, attr: Any) -> bool:
        from ._dense import DenseFeatures
        from .quantized import QuantizedFeatures, quantize

        index = attr.index
        if index is not None and not (isinstance(index, slice) and index == slice(None)):
            raise InvalidConfigError(
                "QuantizedFeatureStore stores whole attributes only (codes are fitted on the "
                "whole matrix); put the full tensor with index=None"
            )
        if isinstance(tensor, (QuantizedFeatures, DenseFeatures)):
            feats = tensor
        elif self.method == "none":
            feats = DenseFeatures(tensor)
        else:
            feats = quantize(tensor, self.method, **self.quantize_kwargs)
        self._store[self._key(attr)] = feats
        return True

    def _get_tensor(self, attr: Any) -> torch.Tensor:
        import torch

        feats = self.features(*self._key(attr))
        index = attr.index
        n = feats.shape[0]
        if index is None:
            index = torch.arange(n)
        elif isinstance(index, slice):
            index = torch.arange(n)[index]
        return feats.gather(torch.as_tensor(index), device=self.device)

    def _remove_tensor(self, attr: Any) -> bool:
        return self._store.pop(self._key(attr), None) is not None

    def _get_tensor_size(self, attr: Any) -> tuple[int, ...]:
        return tuple(self.features(*self._key(attr)).shape)

    def get_all_tensor_attrs(self) -> list[Any]:
        return [_fs.TensorAttr(group_name=g, attr_name=a) for g, a in self._store]

"""The uncompressed baseline behind the same interface as :class:`QuantizedFeatures`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._index import check_index

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["DenseFeatures"]


class DenseFeatures:
    """A float32 feature matrix served row by row, the fp32 baseline of BiFeat.

    Args:
        x: float tensor ``(N, D)``; kept in host memory as float32.

    Attributes:
        shape: ``(N, D)``.
    """

    method = "none"

    def __init__(self, x: torch.Tensor) -> None:
        import torch

        from ._checks import check_features

        check_features(x)
        self.x = x.detach().to("cpu", torch.float32).contiguous()

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.x.shape[0]), int(self.x.shape[1]))

    @property
    def nbytes(self) -> int:
        """Bytes held: ``N * D * 4``."""
        return self.x.numel() * self.x.element_size()

    @property
    def compression_ratio(self) -> float:
        return 1.0

    def gather(
        self,
        index: torch.Tensor,
        device: str | torch.device | None = None,
        out: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Rows ``index`` as float32 ``(len(index), D)`` on ``device`` (default: CPU).

        ``out``: optional float32 buffer of that shape to write into (on the CPU, or on
        ``device``: then rows are gathered on the host and copied).
        """
        import torch

        index = check_index(index, self.shape[0])
        on_host = device is None or torch.device(device).type == "cpu"
        if out is not None and on_host:
            return torch.index_select(self.x, 0, index, out=out)
        rows = self.x.index_select(0, index)
        if on_host:
            return rows
        rows = rows.to(device, non_blocking=True)
        return rows if out is None else out.copy_(rows)

"""Compressed feature matrices: quantize once, gather and dequantize per mini-batch.

Paper: Ma et al., "BiFeat: Supercharge GNN Training via Graph Feature Quantization",
arXiv 2207.14696. The whole feature matrix is compressed once; only codes stay in host memory
(or in a device cache); per mini-batch the codes of the sampled nodes are gathered, moved to the
compute device and dequantized there, so fewer bytes cross the bus.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..._io import atomic_path
from ...exceptions import CarbideError, InvalidConfigError
from ._checks import check_features
from ._index import check_index
from ._kernel import fused_gather, resolve_kernel
from ._packing import PACKABLE_BITS, byte_table, pack_bits
from ._sq import SQ_BITS, SQParams, sq_encode, sq_fit, sq_levels
from ._vq import vq_encode, vq_fit

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["METHODS", "QuantizedFeatures", "quantize"]

METHODS = ("sq", "vq")
_FORMAT = "carbide.featquant"
_FORMAT_VERSION = 1


class QuantizedFeatures:
    """A quantized ``(N, D)`` feature matrix. Build it with :func:`quantize` or :meth:`load`.

    Attributes:
        method: ``"sq"`` or ``"vq"``.
        shape: ``(N, D)`` of the original matrix.
        codes: the stored codes on the host: SQ uint8 ``(N, ceil(D*bits/8))`` bit-packed for
            bits < 8, uint8 ``(N, D)`` for 8, int16 ``(N, D)`` for 16; VQ ``(N, S)`` uint8 or
            int16.
        params: SQ: :class:`~carbide.compression.featquant._sq.SQParams` fields; VQ:
            ``width`` and ``codebook``.
        table: what a decoder needs beside the codes: SQ levels float32 ``(2**bits,)``; VQ
            codebooks float32 ``(S, L, width)``.
    """

    def __init__(
        self,
        method: str,
        shape: tuple[int, int],
        codes: torch.Tensor,
        table: torch.Tensor,
        params: dict[str, Any],
        zero_centre: torch.Tensor | None = None,
    ) -> None:
        self.method = method
        self.shape = (int(shape[0]), int(shape[1]))
        self.codes = codes
        self.table = table
        self.params = dict(params)
        self.zero_centre = zero_centre
        self._decoders: dict[str, torch.Tensor] = {}
        self._workspace: dict[str, torch.Tensor] = {}
        self._cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._kernel_args: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in self.params.items() if k in ("bits", "width",
                                                                           "codebook"))
        return (f"QuantizedFeatures({self.method}, {p}, shape={self.shape}, "
                f"ratio={self.compression_ratio:.1f}x)")

    # sizes ---------------------------------------------------------------------------------

    @property
    def metadata_nbytes(self) -> int:
        """Bytes of the scalars a decoder needs (shape and params), 8 per value."""
        return 8 * (2 + len(self.params))

    @property
    def nbytes(self) -> int:
        """Everything stored: codes + table (levels or codebooks) + zero flags + metadata."""
        extra = 0 if self.zero_centre is None else self.zero_centre.numel()
        return (self.codes.numel() * self.codes.element_size()
                + self.table.numel() * self.table.element_size() + extra + self.metadata_nbytes)

    @property
    def compression_ratio(self) -> float:
        """fp32 bytes of the original matrix / :attr:`nbytes`."""
        return self.shape[0] * self.shape[1] * 4 / self.nbytes

    # gather --------------------------------------------------------------------------------

    def _decoder(self, device: torch.device) -> torch.Tensor:
        """The lookup table on ``device`` (built once per device)."""
        key = str(device)
        if key not in self._decoders:
            if self.method == "sq" and self.params["bits"] in PACKABLE_BITS:
                table = byte_table(self.table, self.params["bits"])
            elif self.method == "sq":
                table = self.table.view(-1, 1)
            else:
                s, big_l, width = self.table.shape
                table = self.table.reshape(s * big_l, width)
            self._decoders[key] = table.to(device).contiguous()
        return self._decoders[key]

    def _index_buffer(self, numel: int, device: torch.device) -> torch.Tensor:
        """A reusable int32 buffer of ``numel`` lookup indices on ``device`` (internal only:
        it never escapes, so reusing it is safe and spares a fresh allocation per batch;
        int32 halves its traffic against int64, and every table has < 2**31 rows)."""
        import torch

        key = str(device)
        buf = self._workspace.get(key)
        if buf is None or buf.numel() < numel:
            buf = torch.empty(max(numel, 1), dtype=torch.int32, device=device)
            self._workspace[key] = buf
        return buf[:numel]

    def decode(self, codes: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Dequantize gathered code rows (on any device) to float32 ``(n, D)``.

        One ``index_select`` from a table small enough to stay in cache: a packed byte decodes
        ``8 // bits`` SQ features at once, a VQ code a whole sub-vector. (A loop over
        sub-vectors or an unpack-then-decode pipeline is slower than gathering floats; so was
        a scalar numba loop, which LLVM did not vectorize: 25-40 ms against 10 ms here for
        200k rows of SQ1 codes.)

        Args:
            codes: rows of :attr:`codes` ``(n, C)``, on the device to decode on.
            out: optional float32 ``(n, D)`` tensor on that device to write into (reusing one
                buffer across mini-batches avoids allocating fresh memory every batch).
        """
        import torch

        table = self._decoder(codes.device)
        n, d = codes.shape[0], self.shape[1]
        per = table.shape[1]
        if out is None:
            out = torch.empty((n, d), dtype=torch.float32, device=codes.device)
        elif out.shape != (n, d) or out.dtype != torch.float32 or out.device != codes.device:
            raise InvalidConfigError(
                f"out must be float32 {(n, d)} on {codes.device}, got {out.dtype} "
                f"{tuple(out.shape)} on {out.device}"
            )
        if n == 0:
            return out
        idx = self._index_buffer(codes.numel(), codes.device).view(codes.shape)
        idx.copy_(codes)
        if self.method == "sq" and self.params["bits"] == 16:
            idx += 32768
        elif self.method == "vq":
            s, big_l, _ = self.table.shape
            idx += torch.arange(s, device=codes.device, dtype=torch.int32) * big_l
        if codes.shape[1] * per == d:  # no padding: decode straight into the output
            torch.index_select(table, 0, idx.view(-1), out=out.view(n * codes.shape[1], per))
        else:
            out.copy_(table.index_select(0, idx.view(-1)).view(n, -1)[:, :d])
        return out

    def gather(
        self,
        index: torch.Tensor,
        device: str | torch.device | None = None,
        out: torch.Tensor | None = None,
        *,
        kernel: str | None = None,
    ) -> torch.Tensor:
        """Rows ``index`` dequantized: float32 ``(len(index), D)`` on ``device`` (default CPU).

        On the CPU (and without a CPU cache from :meth:`cache_rows`) this is, by default
        (``kernel="auto"``), one fused numba kernel when numba imports (codes gathered and
        decoded in one pass; the faster path where measured: 200k of 4M x 128 rows into
        ``out=``, 1 thread, over fp32 ``index_select``, 4.02x for SQ1 and 4.31x for VQ(16,256)
        on an idle machine, against 1.37x and 1.50x for the torch path; figures in
        ``_kernel``), else the torch path: codes gathered on the host (or read from the device
        cache set by :meth:`cache_rows`), moved to ``device``, and decoded there by
        :meth:`decode`. Both give the same bits.

        Args:
            index: int tensor of row ids (negative ids count from the end).
            device: where to decode and return the rows.
            out: optional float32 ``(len(index), D)`` buffer on ``device`` to write into.
            kernel: ``"auto"`` (numba when it imports, else torch), ``"numba"`` or
                ``"torch"``; default: the environment variable ``CARBIDE_FEATQUANT_KERNEL``,
                else ``"auto"``.

        Raises:
            IndexError: an index is out of range (the message gives the bound).
            InvalidConfigError: an unknown ``kernel``, or ``out`` of the wrong shape/dtype.
            MissingDependencyError: ``kernel="numba"`` without numba installed.
        """
        import torch

        path = resolve_kernel(kernel)
        index = check_index(index, self.shape[0])
        dev = torch.device(device) if device is not None else torch.device("cpu")
        cached = self._cache.get(str(dev))
        if path == "numba" and dev.type == "cpu" and cached is None:
            return self._fused_gather(index, out)
        if cached is None:
            codes = self.codes.index_select(0, index)
            if dev.type != "cpu":
                codes = codes.pin_memory().to(dev, non_blocking=True)
        else:
            slot_of, dev_codes = cached
            slots = slot_of.index_select(0, index)
            hit = slots >= 0
            codes = torch.empty((index.numel(), self.codes.shape[1]), dtype=self.codes.dtype,
                                device=dev)
            hit_dev = hit.to(dev)
            codes[hit_dev] = dev_codes.index_select(0, slots[hit].to(dev))
            miss = ~hit
            if bool(miss.any()):
                codes[~hit_dev] = self.codes.index_select(0, index[miss]).to(dev)
        return self.decode(codes, out=out)

    def _fused_gather(self, index: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        """The numba path of :meth:`gather` on the CPU (``index`` already checked)."""
        import torch

        n, d = index.numel(), self.shape[1]
        if out is None:
            out = torch.empty((n, d), dtype=torch.float32)
        elif out.shape != (n, d) or out.dtype != torch.float32 or out.device.type != "cpu":
            raise InvalidConfigError(
                f"out must be float32 {(n, d)} on cpu, got {out.dtype} {tuple(out.shape)} on "
                f"{out.device}"
            )
        if not out.is_contiguous():  # the kernel writes whole contiguous rows
            return out.copy_(self._fused_gather(index, None))
        if self._kernel_args is None:
            table = self._decoder(torch.device("cpu"))
            c = self.codes.shape[1]
            if self.method == "vq":
                offsets = torch.arange(c, dtype=torch.long) * self.table.shape[1]
            else:
                offsets = torch.full((c,), 32768 if self.params["bits"] == 16 else 0,
                                     dtype=torch.long)
            self._kernel_args = (self.codes.contiguous(), table, offsets)
        codes, table, offsets = self._kernel_args
        return fused_gather(codes, index, table, offsets, d, out)

    def cache_rows(self, rows: torch.Tensor, device: str | torch.device) -> None:
        """Keep the codes of ``rows`` on ``device`` (PaGraph-style cache; see
        :func:`degree_order` for the usual choice: the most-sampled, highest-degree nodes)."""
        import torch

        rows = check_index(rows, self.shape[0])
        dev = torch.device(device)
        slot_of = torch.full((self.shape[0],), -1, dtype=torch.long)
        slot_of[rows] = torch.arange(rows.numel())
        self._cache[str(dev)] = (slot_of, self.codes.index_select(0, rows).to(dev))

    def dequantize(self, chunk_rows: int = 65536) -> torch.Tensor:
        """The whole matrix decoded to float32 ``(N, D)`` on the host."""
        import torch

        return torch.cat([
            self.decode(self.codes[i : i + chunk_rows])
            for i in range(0, self.shape[0], chunk_rows)
        ]) if self.shape[0] else torch.empty(self.shape)

    # persistence ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write to ``path`` (``torch.save`` format, atomically)."""
        import torch

        payload = {
            "format": _FORMAT, "version": _FORMAT_VERSION, "method": self.method,
            "shape": list(self.shape), "params": self.params, "codes": self.codes,
            "table": self.table, "zero_centre": self.zero_centre,
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> QuantizedFeatures:
        """Read a file written by :meth:`save` (tensors only; no code is unpickled)."""
        import torch

        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise
        except Exception as exc:  # torch raises many types for a damaged file; name the file
            raise CarbideError(f"{path} is not a readable quantized-features file ({exc})") from exc
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise CarbideError(f"{path} is not a carbide quantized-features file")
        if payload.get("version") != _FORMAT_VERSION:
            raise CarbideError(f"{path} has format version {payload.get('version')}, "
                               f"this carbide reads version {_FORMAT_VERSION}")
        return cls(payload["method"], tuple(payload["shape"]), payload["codes"],
                   payload["table"], payload["params"], payload["zero_centre"])


def quantize(
    x: torch.Tensor,
    method: str = "sq",
    *,
    bits: int = 1,
    width: int = 16,
    codebook: int = 256,
    seed: int = 0,
    signed: bool | None = None,
    zero_code: bool | None = None,
    scheme: str = "carbide",
    sample_rows: int | None = None,
    iters: int = 20,
    kmeans: str = "faiss",
) -> QuantizedFeatures:
    """Quantize a feature matrix.

    Args:
        x: float ``(N, D)``, finite.
        method: ``"sq"`` (scalar) or ``"vq"`` (vector).
        bits: SQ code width: 1, 2, 4, 8 or 16 (default 1).
        width: VQ sub-vector width (default 16); ``D`` is zero-padded to a multiple of it.
        codebook: VQ centres per sub-space (default 256; uint8 codes up to 256, int16 up to
            32768).
        seed: seed of the row samples and k-means initialisation.
        signed: SQ: code a sign (default: whether any value is negative).
        zero_code: SQ: reserve a code for exact zeros (default: whether any value is zero).
        scheme: SQ: ``"carbide"`` or ``"paper"`` (the authors' exact scheme; see ``_sq``).
        sample_rows: rows used to fit (SQ default 100,000; VQ default
            ``max(32 * codebook, 10_000)``), capped at ``N``.
        iters: VQ k-means iterations at most.
        kmeans: VQ k-means: ``"faiss"`` (default, needs faiss-cpu) or ``"torch"``.

    Returns:
        The :class:`QuantizedFeatures`.

    Raises:
        InvalidConfigError: unknown method or bit width, bad width/codebook, a codebook larger
            than the number of rows, or non-finite features (how many, and where).
    """
    if method not in METHODS:
        raise InvalidConfigError(f"unknown quantization method {method!r}; choose one of "
                                 f"{', '.join(METHODS)} (or 'none' for fp32 via DenseFeatures)")
    check_features(x)
    x = x.detach().to("cpu")
    if method == "sq":
        if bits not in SQ_BITS:
            raise InvalidConfigError(f"unsupported SQ bit width {bits!r}; choose one of {SQ_BITS}")
        params: SQParams = sq_fit(x, bits, signed=signed, zero_code=zero_code, scheme=scheme,
                                  sample_rows=sample_rows or 100_000, seed=seed)
        codes = sq_encode(x, params)
        if bits in PACKABLE_BITS:
            codes = pack_bits(codes, bits)
        return QuantizedFeatures("sq", tuple(x.shape), codes.contiguous(), sq_levels(params),
                                 asdict(params))
    codebooks, zero_centre = vq_fit(x, width, codebook, sample_rows=sample_rows, iters=iters,
                                    seed=seed, kmeans=kmeans)
    codes = vq_encode(x, codebooks, zero_centre)
    return QuantizedFeatures("vq", tuple(x.shape), codes.contiguous(), codebooks,
                             {"width": width, "codebook": codebook}, zero_centre)



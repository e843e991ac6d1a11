"""Bit packing of low-bit codes: ``8 // bits`` codes per byte, lowest bits first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["PACKABLE_BITS", "byte_table", "pack_bits", "packed_width", "unpack_bits"]

PACKABLE_BITS = (1, 2, 4)


def _check_bits(bits: int) -> int:
    if bits not in PACKABLE_BITS:
        raise InvalidConfigError(
            f"bit packing takes bits in {PACKABLE_BITS}, got {bits!r} (8- and 16-bit codes are "
            f"stored unpacked)"
        )
    return 8 // bits


def packed_width(dim: int, bits: int) -> int:
    """Bytes per row for ``dim`` codes of ``bits`` bits (rows are padded to whole bytes)."""
    per = _check_bits(bits)
    return -(-dim // per)


def pack_bits(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Pack ``codes`` (uint8 ``(N, D)``, values ``< 2**bits``) into uint8 ``(N, ceil(D*bits/8))``.

    Code ``j`` of a row lands in byte ``j // (8 // bits)`` at bit offset
    ``(j % (8 // bits)) * bits``; a row's last byte is padded with zero codes.
    """
    import torch

    per = _check_bits(bits)
    if codes.dim() != 2:
        raise InvalidConfigError(f"codes must have shape (N, D), got {tuple(codes.shape)}")
    n, d = codes.shape
    width = -(-d // per)
    padded = torch.zeros((n, width * per), dtype=torch.uint8, device=codes.device)
    padded[:, :d] = codes.to(torch.uint8)
    if padded.numel() and int(padded.max()) >= 1 << bits:
        raise InvalidConfigError(f"codes hold values >= 2**{bits}; they do not fit in {bits} bits")
    groups = padded.view(n, width, per).to(torch.int32)
    shifts = torch.arange(per, dtype=torch.int32, device=codes.device) * bits
    return (groups << shifts).sum(dim=2).to(torch.uint8)


def unpack_bits(packed: torch.Tensor, bits: int, dim: int) -> torch.Tensor:
    """Inverse of :func:`pack_bits`: uint8 ``(N, W)`` -> uint8 codes ``(N, dim)``."""
    import torch

    per = _check_bits(bits)
    n, width = packed.shape
    if dim > width * per:
        raise InvalidConfigError(
            f"{width} bytes per row hold at most {width * per} codes, not {dim}"
        )
    shifts = torch.arange(per, dtype=torch.uint8, device=packed.device) * bits
    codes = (packed.unsqueeze(-1) >> shifts) & ((1 << bits) - 1)
    return codes.reshape(n, width * per)[:, :dim]


def byte_table(levels: torch.Tensor, bits: int) -> torch.Tensor:
    """Decode table for packed bytes: float ``(256, 8 // bits)``, row ``v`` = the decoded values
    of the codes packed in byte ``v``. One lookup then decodes ``8 // bits`` features at once,
    which is what makes the packed gather faster than gathering floats."""
    import torch

    per = _check_bits(bits)
    all_bytes = torch.arange(256, dtype=torch.uint8, device=levels.device).view(256, 1)
    codes = unpack_bits(all_bytes, bits, per).long()
    return levels[codes].contiguous()

"""Framing of the bytes that cross an enclave boundary: a JSON header and a raw body.

Everything secret travels in the body, sealed by a :class:`~.channel.SecureChannel`; headers
carry only routing (``to``, ``from``, ``kind``), public keys, quotes and timing figures.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import numpy as np

__all__ = ["arrays_from_bytes", "arrays_to_bytes", "pack", "unpack"]

_LEN = struct.Struct(">I")


def pack(header: dict[str, Any], body: bytes = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return _LEN.pack(len(head)) + head + body


def unpack(message: bytes) -> tuple[dict[str, Any], bytes]:
    (k,) = _LEN.unpack_from(message, 0)
    return json.loads(message[4:4 + k]), message[4 + k:]


def arrays_to_bytes(**arrays: np.ndarray) -> bytes:
    """Arrays as an ``.npz`` archive (no pickle)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def arrays_from_bytes(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}

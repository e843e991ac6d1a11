"""Entry points of enclave hosts: the loop of an enclave OS process, and the Ray actor.

Kept light (numpy + cryptography): aggregator processes never import torch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

from ._enclave import EnclaveCore

__all__ = ["EnclaveActor", "keep_large_buffers", "serve"]

#: glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_LARGE = 1 << 30  # buffers up to 1 GiB come from the heap and stay there


def keep_large_buffers() -> bool:
    """Make this process reuse its large message buffers instead of mapping fresh pages.

    An enclave seals, opens, masks and receives buffers of tens of MB every round. glibc
    serves each such allocation with a fresh ``mmap`` and unmaps it on free, so every round
    pays a page fault per 4 KiB (sealing 40 MB took 0.25 s, AES-GCM itself 0.037 s, measured
    here). Raising the mmap and trim thresholds (``mallopt``) keeps freed buffers in the heap
    for the next round. Called by every enclave process and actor, which are carbide's own
    processes. Returns False, changing nothing, where the C library is not glibc: only speed
    differs there.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS, Windows)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _LARGE)) and bool(mallopt(_M_TRIM_THRESHOLD, 2 * _LARGE))


def serve(conn: Any, name: str, role: str, policy: dict[str, Any]) -> None:
    """Run one enclave in this process: bytes in, bytes out, until the pipe closes."""
    keep_large_buffers()
    core = EnclaveCore(name, role, policy)
    conn.send_bytes(core.hello())
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:
            return
        if message == b"stop":
            return
        for out in core.handle(message):
            conn.send_bytes(out)


class EnclaveActor:
    """The same enclave as a Ray actor: ``handle(bytes) -> [bytes]``."""

    def __init__(self, name: str, role: str, policy: dict[str, Any]) -> None:
        keep_large_buffers()  # an actor owns its worker process
        self.core = EnclaveCore(name, role, policy)

    def hello(self) -> list[bytes]:
        return [self.core.hello()]

    def handle(self, message: bytes) -> list[bytes]:
        return self.core.handle(message)

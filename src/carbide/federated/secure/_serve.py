"""Entry points of enclave hosts: the loop of an enclave OS process, and the Ray actor.

Kept light (numpy + cryptography): aggregator processes never import torch.
"""

from __future__ import annotations

from typing import Any

from ._enclave import EnclaveCore

__all__ = ["EnclaveActor", "serve"]


def serve(conn: Any, name: str, role: str, policy: dict[str, Any]) -> None:
    """Run one enclave in this process: bytes in, bytes out, until the pipe closes."""
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
        self.core = EnclaveCore(name, role, policy)

    def hello(self) -> list[bytes]:
        return [self.core.hello()]

    def handle(self, message: bytes) -> list[bytes]:
        return self.core.handle(message)

"""Secure channels and **simulated** remote attestation between Citadel's enclaves.

Channels: both ends hold an X25519 key (the enclave key that attestation vouches for); the
shared secret goes through HKDF-SHA256 (salt: both public keys in a fixed order) to one
AES-256-GCM key per direction. Every message carries a sequence number that is also the GCM
nonce and part of the authenticated header, so a tampered ciphertext fails authentication
(:class:`ChannelError`), and a replayed or reordered one fails the strictly-increasing
sequence check.

Attestation (simulated; no SGX hardware): in SGX, the CPU measures the enclave's code
(MRENCLAVE) and signs a quote binding it to data the enclave chose (its public key), and
Intel's attestation service vouches for the CPU. Here an :class:`AttestationService` holding an
Ed25519 key plays both parts: it signs ``(code hash, enclave public key)``; a verifier that
trusts the service's public key and expects a code hash refuses anything else
(:class:`AttestationError`). What a process cannot give, that SGX does: memory encryption
(the host OS and the cloud operator cannot read the enclave's pages) and a hardware root of
trust for the measurement (here the launcher computes the hash and could lie).
"""

from __future__ import annotations

import hashlib
import importlib.util
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..._imports import optional_import
from ...exceptions import CarbideError

__all__ = ["AttestationError", "AttestationService", "ChannelError", "Quote", "SecureChannel",
           "code_hash", "verify_quote"]

_HEADER = struct.Struct(">QI")  # sequence number, length of the associated label


class ChannelError(CarbideError, RuntimeError):
    """A message failed authentication (tampered), or was replayed or reordered."""


class AttestationError(CarbideError, RuntimeError):
    """A quote was refused: unknown signer, wrong code hash or a key it does not vouch for."""


def _crypto():
    return optional_import("cryptography", "secure", purpose="Citadel's channels")


def code_hash(modules: Sequence[str]) -> str:
    """SHA-256 over the source files of ``modules`` (the "code package" of an enclave: its
    measurement, standing in for SGX's MRENCLAVE). Read from disk, not imported."""
    h = hashlib.sha256()
    for name in sorted(modules):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise AttestationError(f"cannot measure code package {name!r}: module not found")
        h.update(name.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Quote:
    """A (simulated) attestation quote: ``signature`` by the service over
    ``role | code_hash | public_key``."""

    role: str
    code_hash: str
    public_key: bytes
    signature: bytes

    def payload(self) -> bytes:
        return b"citadel-quote\0" + self.role.encode() + b"\0" + self.code_hash.encode() + \
            b"\0" + self.public_key

    def to_bytes(self) -> bytes:
        parts = [self.role.encode(), self.code_hash.encode(), self.public_key, self.signature]
        return b"".join(struct.pack(">I", len(p)) + p for p in parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> Quote:
        parts, off = [], 0
        for _ in range(4):
            (k,) = struct.unpack_from(">I", data, off)
            parts.append(data[off + 4: off + 4 + k])
            off += 4 + k
        return cls(parts[0].decode(), parts[1].decode(), parts[2], parts[3])


class AttestationService:
    """The simulated attestation service (stands in for the CPU's quoting enclave plus Intel's
    attestation service): an Ed25519 key that signs ``(role, code hash, enclave key)``.

    Args:
        seed: derive the signing key from this (tests only); ``None`` draws a random key.
    """

    simulated = True

    def __init__(self, seed: int | None = None) -> None:
        _crypto()
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if seed is None:
            self._key = Ed25519PrivateKey.generate()
        else:
            self._key = Ed25519PrivateKey.from_private_bytes(
                hashlib.sha256(f"citadel-attestation:{seed}".encode()).digest())

    @property
    def public_key(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self._key.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)

    def quote(self, role: str, measured_hash: str, enclave_public_key: bytes) -> Quote:
        """Sign a quote for an enclave whose code measured ``measured_hash``."""
        q = Quote(role, measured_hash, bytes(enclave_public_key), b"")
        return Quote(role, measured_hash, q.public_key, self._key.sign(q.payload()))


def verify_quote(quote: Quote, *, trusted_signers: Sequence[bytes], expected_hash: str,
                 role: str | None = None) -> bytes:
    """Check a quote before sending anything to its enclave; returns the attested key.

    Raises:
        AttestationError: signed by no trusted service, signature invalid, or the code hash
            (or role) is not the expected one.
    """
    _crypto()
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    for signer in trusted_signers:
        try:
            Ed25519PublicKey.from_public_bytes(signer).verify(quote.signature, quote.payload())
            break
        except InvalidSignature:
            continue
    else:
        raise AttestationError(f"quote of {quote.role!r} is not signed by a trusted "
                               "attestation service: refused (unknown signer or forged quote)")
    if quote.code_hash != expected_hash:
        raise AttestationError(f"quote of {quote.role!r} measures code {quote.code_hash[:16]}..., "
                               f"expected {expected_hash[:16]}...: refused (wrong code package)")
    if role is not None and quote.role != role:
        raise AttestationError(f"quote is for role {quote.role!r}, expected {role!r}: refused")
    return quote.public_key


class SecureChannel:
    """One end of an authenticated, encrypted, replay-protected channel.

    Args:
        private_key: this end's X25519 private key.
        peer_public: the peer's raw 32-byte X25519 key (from its verified quote).
        label: names the channel (both ends use the same), bound into the key derivation.

    ``seal(plain) -> bytes`` and ``open(message) -> plain``: each message is
    ``seq (8 bytes) | AES-GCM(plain, nonce = direction | seq, ad = seq | label)``.
    """

    def __init__(self, private_key, peer_public: bytes, label: str = "") -> None:
        _crypto()
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        mine = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(peer_public))
        lo, hi = sorted([mine, bytes(peer_public)])
        keys = HKDF(algorithm=hashes.SHA256(), length=64, salt=lo + hi,
                    info=b"citadel-channel\0" + label.encode()).derive(shared)
        # the end with the smaller key sends with the first half
        first = mine == lo
        self._send = AESGCM(keys[:32] if first else keys[32:])
        self._recv = AESGCM(keys[32:] if first else keys[:32])
        self._dir_send = b"\x00\x00\x00\x01" if first else b"\x00\x00\x00\x02"
        self._dir_recv = b"\x00\x00\x00\x02" if first else b"\x00\x00\x00\x01"
        self._label = label.encode()
        self._seq_out = 0
        self._seq_in = -1

    def seal(self, plain: bytes | bytearray | memoryview) -> bytearray:
        """Seal ``plain`` (any contiguous bytes-like object, e.g. a ``uint8`` view of an
        array: no copy is made of it first)."""
        seq = self._seq_out
        self._seq_out += 1
        head = _HEADER.pack(seq, len(self._label))
        nonce = self._dir_send + struct.pack(">Q", seq)
        # one buffer, ciphertext written in place after the header (encrypt + concatenate
        # allocated and copied the megabytes twice)
        out = bytearray(_HEADER.size + memoryview(plain).nbytes + 16)
        out[:_HEADER.size] = head
        self._send.encrypt_into(nonce, plain, head + self._label,
                                memoryview(out)[_HEADER.size:])
        return out

    def open(self, message: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        if len(message) < _HEADER.size + 16:
            raise ChannelError(f"message of {len(message)} bytes is too short to be sealed")
        head = bytes(message[:_HEADER.size])
        seq, _ = _HEADER.unpack(head)
        nonce = self._dir_recv + struct.pack(">Q", seq)
        try:
            # a view, not a copy, of the ciphertext (updates are megabytes)
            plain = self._recv.decrypt(nonce, memoryview(message)[_HEADER.size:],
                                       head + self._label)
        except InvalidTag:
            raise ChannelError(f"message {seq} on channel {self._label.decode()!r} failed "
                               "authentication: tampered or not for this channel") from None
        if seq <= self._seq_in:
            raise ChannelError(f"message {seq} on channel {self._label.decode()!r} replayed or "
                               f"reordered (last accepted {self._seq_in})")
        self._seq_in = seq
        return plain

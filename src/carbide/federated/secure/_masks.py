"""Zero-sum masks mod 2^k, fresh every round (Citadel's information barrier).

Two schemes, both summing to exactly 0 mod ``2^bits`` over the round's enclaves:

- ``admin``: the model owner's admin enclave draws a random 32-byte seed per enclave, expands
  all but the last by the PRG and gives the last one minus their sum; each mask travels to its
  enclave over an attested channel. The admin knows every mask (it is trusted code in an
  enclave); no other party does.
- ``pairwise``: every pair ``(i, j)`` of neighbouring enclaves agrees a seed by X25519 on their
  attested keys (Bonawitz et al., CCS 2017; Flower's SecAgg+); enclave ``i`` adds
  ``PRG(s_ij)`` for ``j > i`` and subtracts it for ``j < i``. Nobody sees another's mask.
  ``neighbors=None`` pairs all enclaves; an even ``neighbors=k`` pairs each with the ``k``
  nearest on a ring (SecAgg+'s sparse graph), which is still zero-sum.

The PRG is AES-256 in counter mode (``cryptography``), keyed by HKDF-SHA256 of the seed with the
round's tag as salt: a new round tag gives new, independent masks.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..._imports import optional_import
from ...exceptions import InvalidConfigError
from ._fixed import uint_dtype

__all__ = ["SCHEMES", "admin_masks", "mask_neighbors", "pairwise_mask", "pairwise_masks",
           "prg", "prg_add", "public_bytes", "round_tag", "x25519_keys"]

#: Mask schemes.
SCHEMES: tuple[str, ...] = ("admin", "pairwise")


def _crypto():
    return optional_import("cryptography", "secure", purpose="Citadel's masks and channels")


_CHUNK = 1 << 18  # values per keystream chunk: 1-2 MiB, stays in cache


def _ctr(key: bytes):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key), modes.CTR(b"\0" * 16)).encryptor()


def prg(key: bytes, d: int, bits: int) -> np.ndarray:
    """``d`` uniform integers mod ``2^bits`` from AES-256-CTR keyed by ``key`` (32 bytes);
    a read-only array."""
    _crypto()
    dtype = uint_dtype(bits)
    enc = _ctr(key)
    stream = enc.update(bytes(d * np.dtype(dtype).itemsize)) + enc.finalize()
    return np.frombuffer(stream, dtype=dtype)


def prg_add(key: bytes, target: np.ndarray, *, subtract: bool = False,
            mirror: np.ndarray | None = None) -> None:
    """``target += PRG(key)`` (or ``-=``) in place, mod ``2^bits`` of ``target``'s dtype, in
    cache-sized chunks: the same values as :func:`prg`, without a ``d``-sized keystream.
    ``mirror`` (same shape) gets the opposite sign from the same keystream."""
    _crypto()
    enc = _ctr(key)
    item = target.dtype.itemsize
    zeros = bytes(min(_CHUNK, target.shape[0]) * item)
    buf = bytearray(len(zeros) + 15)  # update_into wants 15 spare bytes
    for start in range(0, target.shape[0], _CHUNK):
        stop = min(start + _CHUNK, target.shape[0])
        k = (stop - start) * item
        enc.update_into(zeros[:k] if k < len(zeros) else zeros, buf)
        stream = np.frombuffer(buf, dtype=target.dtype, count=stop - start)
        if subtract:
            target[start:stop] -= stream
        else:
            target[start:stop] += stream
        if mirror is not None:
            if subtract:
                mirror[start:stop] += stream
            else:
                mirror[start:stop] -= stream


def _hkdf(secret: bytes, salt: bytes, info: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def round_tag(round_index: int, nonce: bytes = b"") -> bytes:
    """The salt that makes a round's masks fresh: the round number and a random nonce that
    the root draws per round (and per re-keying after a dropout)."""
    return b"citadel-round:" + str(int(round_index)).encode() + b":" + nonce


def admin_masks(n: int, d: int, bits: int, *, seed: bytes | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
    """The admin scheme's masks ``(n, d)`` summing to 0 mod ``2^bits``: ``PRG(seed_i)`` for
    ``i < n - 1`` and minus their sum for the last.

    Args:
        seed: 32 bytes from which the per-enclave seeds derive (``None``: ``os.urandom``).
        out: add the masks into this ``(n, d)`` array in place (and return it) instead of
            allocating them.
    """
    if n < 2:
        raise InvalidConfigError(f"zero-sum masks need n >= 2 enclaves, got {n}")
    _crypto()
    root = os.urandom(32) if seed is None else seed
    masks = np.zeros((n, d), dtype=uint_dtype(bits)) if out is None else out
    for i in range(n - 1):
        # the last row takes minus each stream: unsigned arithmetic wraps mod 2^bits
        prg_add(_hkdf(root, b"citadel-admin", str(i).encode()), masks[i], mirror=masks[n - 1])
    return masks


def mask_neighbors(n: int, neighbors: int | None = None) -> list[list[int]]:
    """Who each enclave agrees pairwise masks with: everybody (``None``), or its ``neighbors``
    nearest on a ring (an even number, ``2 <= neighbors < n``)."""
    if neighbors is None or neighbors >= n - 1:
        return [[j for j in range(n) if j != i] for i in range(n)]
    if neighbors < 2 or neighbors % 2:
        raise InvalidConfigError(
            f"neighbors must be an even number >= 2 (ring graph), or None for all pairs; got "
            f"{neighbors!r}")
    half = neighbors // 2
    return [sorted({(i + o) % n for o in range(-half, half + 1) if o} - {i}) for i in range(n)]


def x25519_keys(n: int, seed: int | None = None) -> list:
    """``n`` X25519 private keys: random, or derived from ``seed`` (for reproducible runs and
    tests only: a real enclave draws its key from its own entropy)."""
    _crypto()
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    if seed is None:
        return [X25519PrivateKey.generate() for _ in range(n)]
    return [X25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"citadel-x25519:{seed}:{i}".encode()).digest()) for i in range(n)]


def pairwise_mask(index: int, private_key, peers: Mapping[int, bytes], d: int, bits: int,
                  tag: bytes, out: np.ndarray | None = None) -> np.ndarray:
    """Enclave ``index``'s pairwise mask ``(d,)``.

    Args:
        index: this enclave's position in the round.
        private_key: its X25519 private key.
        peers: neighbour position -> its raw 32-byte X25519 public key (attested).
        tag: :func:`round_tag` of the round.
        out: add the mask into this ``(d,)`` array in place (and return it).
    """
    _crypto()
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    mask = np.zeros(d, dtype=uint_dtype(bits)) if out is None else out
    for j, pub in sorted(peers.items()):
        if j == index:
            raise InvalidConfigError(f"enclave {index} lists itself as a mask peer")
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(pub))
        lo, hi = min(index, j), max(index, j)
        prg_add(_hkdf(shared, tag, f"citadel-pair:{lo}:{hi}".encode()), mask,
                subtract=j < index)
    return mask


def public_bytes(private_key) -> bytes:
    """Raw 32-byte public key of an X25519 private key."""
    from cryptography.hazmat.primitives import serialization

    return private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)


def pairwise_masks(keys: Sequence, d: int, bits: int, tag: bytes,
                   neighbors: int | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """All ``n`` pairwise masks ``(n, d)`` computed in one process (for analysis and the
    in-process path; the enclave runtime computes each inside its own enclave); ``out``: add
    them into this ``(n, d)`` array in place."""
    n = len(keys)
    if n < 2:
        raise InvalidConfigError(f"zero-sum masks need n >= 2 enclaves, got {n}")
    pubs = [public_bytes(k) for k in keys]
    graph = mask_neighbors(n, neighbors)
    masks = np.zeros((n, d), dtype=uint_dtype(bits)) if out is None else out
    for i in range(n):
        pairwise_mask(i, keys[i], {j: pubs[j] for j in graph[i]}, d, bits, tag, out=masks[i])
    return masks

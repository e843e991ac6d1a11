"""Zero-sum masks mod 2^k, fresh every round (Citadel's information barrier).

Two schemes, both summing to exactly 0 mod ``2^bits`` over the round's enclaves:

- ``admin``: the model owner's admin enclave draws a random 32-byte seed per enclave, expands
  all but the last by the PRG and gives the last one minus their sum; each mask travels to its
  enclave over an attested channel. The admin knows every mask (it is trusted code in an
  enclave); no other party does.
- ``pairwise``: every pair ``(i, j)`` of neighbouring enclaves agrees a seed by X25519 on their
  attested keys (Bonawitz et al., CCS 2017); enclave ``i`` adds ``PRG(s_ij)`` for ``j > i``
  and subtracts it for ``j < i``. Nobody sees another's mask. Who is whose neighbour:
  ``neighbors=None`` pairs all enclaves (``n - 1`` PRG streams of length ``d`` per enclave
  and round: O(n d)); an even ``neighbors=k`` pairs each enclave with its ``k`` nearest on a
  ring whose order is shuffled afresh every round from the round's tag (the sparse graph of
  SecAgg+, Bell et al., CCS 2020, as in Flower's ``SecAggPlusWorkflow``: O(k d)); the default
  ``"auto"`` takes the smallest even ``k >= log2 n`` (all pairs when that reaches ``n - 1``).
  Every pair's stream is added once and subtracted once, so the masks still sum to exactly
  0 mod ``2^bits`` over any graph.

  The privacy trade-off of a sparse graph: a masked update (or an aggregator's partial sum
  over a set ``S`` of enclaves) stays uniform to anyone who lacks the seed of at least one
  mask edge leaving ``S``. With all pairs that takes a coalition of every other enclave;
  with ``k`` ring neighbours, a coalition holding the ``k`` neighbours of one enclave (and
  the aggregator that sees its vector) unmasks it. So the partial-sum indistinguishability
  holds against coalitions smaller than the neighbourhood (fewer than ``k`` colluding
  training enclaves), not against any ``n - 2``. A ring is connected, so every partial sum
  over a proper subset is masked by at least two streams whatever the tree.

The PRG is AES-256 in counter mode (``cryptography``), keyed by HKDF-SHA256 of the seed with the
round's tag as salt: a new round tag gives new, independent masks.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..._imports import optional_import
from ...exceptions import InvalidConfigError
from ._fixed import uint_dtype

__all__ = ["AUTO", "SCHEMES", "admin_masks", "admin_seed", "check_neighbors", "encode_masked",
           "mask_neighbors", "pairwise_mask", "pairwise_masks", "pairwise_streams", "prg",
           "prg_add", "public_bytes", "resolve_neighbors", "round_tag", "x25519_keys"]

#: Mask schemes.
SCHEMES: tuple[str, ...] = ("admin", "pairwise")
#: The default pairwise neighbourhood: the smallest even ``k >= log2 n``.
AUTO = "auto"


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
        prg_add(admin_seed(root, i), masks[i], mirror=masks[n - 1])
    return masks


def admin_seed(root: bytes, index: int) -> bytes:
    """The admin scheme's PRG key of enclave ``index`` derived from the round's ``root``."""
    return _hkdf(root, b"citadel-admin", str(int(index)).encode())


def check_neighbors(neighbors: object) -> int | str | None:
    """Validate a ``neighbors`` setting: ``None`` (all pairs), ``"auto"`` or an even int >= 2."""
    if neighbors is None or neighbors == AUTO:
        return neighbors  # type: ignore[return-value]
    if isinstance(neighbors, bool) or not isinstance(neighbors, int) or neighbors < 2 or \
            neighbors % 2:
        raise InvalidConfigError(
            f"neighbors must be an even number >= 2 (ring graph), {AUTO!r} (the smallest even "
            f"k >= log2 n) or None for all pairs; got {neighbors!r}")
    return neighbors


def resolve_neighbors(n: int, neighbors: int | str | None = AUTO) -> int | None:
    """The ring degree ``k`` a round of ``n`` enclaves uses, or ``None`` for all pairs
    (when ``k >= n - 1`` the ring is all pairs anyway)."""
    check_neighbors(neighbors)
    if neighbors is None:
        return None
    k = 2 * math.ceil(math.log2(max(n, 2)) / 2) if neighbors == AUTO else int(neighbors)
    return None if k >= n - 1 else k


def _ring_order(n: int, tag: bytes | None) -> list[int]:
    if tag is None:
        return list(range(n))
    seed = int.from_bytes(hashlib.sha256(b"citadel-ring:" + tag).digest()[:16], "big")
    return [int(i) for i in np.random.default_rng(seed).permutation(n)]


def mask_neighbors(n: int, neighbors: int | str | None = None,
                   tag: bytes | None = None) -> list[list[int]]:
    """Who each of ``n`` enclaves agrees pairwise masks with: everybody (``None``), or its
    ``k`` nearest on a ring (``neighbors=k``, even, or ``"auto"``: see
    :func:`resolve_neighbors`). ``tag`` (the round's :func:`round_tag`, which every
    participant gets) shuffles the ring's order, so the graph is fresh every round as in
    SecAgg+; ``None`` keeps positions in order. Symmetric: ``j in g[i]`` iff ``i in g[j]``."""
    k = resolve_neighbors(n, neighbors)
    if k is None:
        return [[j for j in range(n) if j != i] for i in range(n)]
    order = _ring_order(n, tag)
    pos = {v: p for p, v in enumerate(order)}
    half = k // 2
    return [sorted({order[(pos[i] + o) % n] for o in range(-half, half + 1) if o})
            for i in range(n)]


def x25519_keys(n: int, seed: int | None = None) -> list:
    """``n`` X25519 private keys: random, or derived from ``seed`` (for reproducible runs and
    tests only: a real enclave draws its key from its own entropy)."""
    _crypto()
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    if seed is None:
        return [X25519PrivateKey.generate() for _ in range(n)]
    return [X25519PrivateKey.from_private_bytes(
        hashlib.sha256(f"citadel-x25519:{seed}:{i}".encode()).digest()) for i in range(n)]


def pairwise_streams(index: int, private_key, peers: Mapping[int, bytes],
                     tag: bytes) -> list[tuple[bytes, bool]]:
    """Enclave ``index``'s pairwise PRG keys and signs: ``(key, subtract)`` per neighbour
    (``subtract`` for the neighbours before it), for :func:`encode_masked`."""
    _crypto()
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    streams = []
    for j, pub in sorted(peers.items()):
        if j == index:
            raise InvalidConfigError(f"enclave {index} lists itself as a mask peer")
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(pub))
        lo, hi = min(index, j), max(index, j)
        streams.append((_hkdf(shared, tag, f"citadel-pair:{lo}:{hi}".encode()), j < index))
    return streams


def _add_streams(ciphers: list, signs: list[bool], target: np.ndarray, start: int, stop: int,
                 buf: bytearray, zeros: bytes) -> None:
    item = target.dtype.itemsize
    k = (stop - start) * item
    chunk = target[start:stop]
    for enc, subtract in zip(ciphers, signs, strict=True):
        enc.update_into(zeros[:k] if k < len(zeros) else zeros, buf)
        stream = np.frombuffer(buf, dtype=target.dtype, count=stop - start)
        if subtract:
            np.subtract(chunk, stream, out=chunk)
        else:
            np.add(chunk, stream, out=chunk)


def encode_masked(values: np.ndarray, *, clip: float, bits: int, weight: float,
                  streams: Sequence[tuple[bytes, bool]], out: np.ndarray | None = None
                  ) -> tuple[np.ndarray, int]:
    """One enclave's encode + mask in one pass: ``encode(weight * clip(values)) +
    sum(+-PRG(key))`` mod ``2^bits``, chunk by chunk while each chunk is in cache (the same
    values as :func:`~._fixed.encode` followed by :func:`prg_add` per stream).

    Args:
        values: float ``(d,)``.
        streams: ``(key, subtract)`` pairs (:func:`pairwise_streams`; the admin scheme: its
            one seed, ``False``).

    Returns:
        ``(masked, clipped)`` as :func:`~._fixed.encode`.
    """
    from ._fixed import _CHUNK as enc_chunk
    from ._fixed import encode_chunks

    if not streams:
        return encode_chunks(values, clip=clip, bits=bits, weight=weight, out=out)
    _crypto()
    ciphers = [_ctr(key) for key, _ in streams]
    signs = [bool(sub) for _, sub in streams]
    item = np.dtype(uint_dtype(bits)).itemsize
    zeros = bytes(enc_chunk * item)
    buf = bytearray(len(zeros) + 15)
    state: dict[str, np.ndarray] = {}

    def each(start: int, stop: int) -> None:
        _add_streams(ciphers, signs, state["out"], start, stop, buf, zeros)

    x = np.asarray(values).reshape(-1)
    state["out"] = np.empty(x.shape[0], dtype=uint_dtype(bits)) if out is None else out
    return encode_chunks(x, clip=clip, bits=bits, weight=weight, out=state["out"], each=each)


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
    mask = np.zeros(d, dtype=uint_dtype(bits)) if out is None else out
    for key, subtract in pairwise_streams(index, private_key, peers, tag):
        prg_add(key, mask, subtract=subtract)
    return mask


def public_bytes(private_key) -> bytes:
    """Raw 32-byte public key of an X25519 private key."""
    from cryptography.hazmat.primitives import serialization

    return private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)


def pairwise_masks(keys: Sequence, d: int, bits: int, tag: bytes,
                   neighbors: int | str | None = None, out: np.ndarray | None = None
                   ) -> np.ndarray:
    """All ``n`` pairwise masks ``(n, d)`` computed in one process (for analysis and the
    in-process path; the enclave runtime computes each inside its own enclave) over the
    round's graph ``mask_neighbors(n, neighbors, tag)``; ``out``: add them into this
    ``(n, d)`` array in place."""
    n = len(keys)
    if n < 2:
        raise InvalidConfigError(f"zero-sum masks need n >= 2 enclaves, got {n}")
    pubs = [public_bytes(k) for k in keys]
    graph = mask_neighbors(n, neighbors, tag)
    masks = np.zeros((n, d), dtype=uint_dtype(bits)) if out is None else out
    for i in range(n):
        pairwise_mask(i, keys[i], {j: pubs[j] for j in graph[i]}, d, bits, tag, out=masks[i])
    return masks

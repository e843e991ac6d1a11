"""Secure aggregation over the flat ``(n, d)`` update contract of :mod:`carbide.federated`.

Citadel (Zhang et al., SoCC '21, arXiv 2105.01281) has each training enclave clip, weight,
fixed-point-encode and zero-sum-mask its update before it leaves the enclave; a tree of
aggregator enclaves (fan-in ``F``) adds the masked vectors mod ``2^bits`` and only the root
decodes the sum. This module is that arithmetic, in one process, on tensors:

- :func:`masked_updates` -> int64 ``(n, d)``: what leaves each enclave (for analysis);
- :func:`aggregation_tree` / :func:`tree_sum`: the aggregator tree and the partial sums each
  inner node sees;
- :func:`secure_aggregate` -> :class:`~carbide.federated.AggregationResult`: the weighted mean,
  like :func:`carbide.federated.fedavg`;
- :class:`SecureAggregator`: the same as an :class:`~carbide.federated.Aggregator`, so it plugs
  into :class:`~carbide.federated.Simulation`.

The enclave runtime (:mod:`.runtime`) runs the same functions inside separate processes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._validate import check_int
from ...exceptions import InvalidConfigError
from . import _fixed, _masks

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..aggregation import AggregationResult

__all__ = ["SecureAggregator", "aggregation_tree", "masked_updates", "secure_aggregate",
           "tree_sum"]


def check_round(n: int, *, fan_in: int = 4, allow_single: bool = False) -> None:
    """Refuse rounds that give no privacy or no tree: ``n = 1`` (the sum is the update)
    unless ``allow_single``, and ``fan_in < 2``."""
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in < 2:
        raise InvalidConfigError(f"fan_in must be an integer >= 2 (children per aggregator), "
                                 f"got {fan_in!r}")
    if n < 1:
        raise InvalidConfigError("no updates: a round needs at least one enclave")
    if n == 1 and not allow_single:
        raise InvalidConfigError(
            "n = 1 enclave: the 'sum' is that enclave's update, so masking hides nothing; "
            "pass allow_single=True if you accept that")


def normalized_weights(n: int, weights: Any = None) -> np.ndarray:
    """FedAvg weights ``(n,)`` normalized to sum 1 (uniform when ``None``), float64."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights.detach().cpu().numpy() if hasattr(weights, "detach") else weights,
                   dtype=np.float64)
    if w.shape != (n,):
        raise InvalidConfigError(f"weights must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise InvalidConfigError(f"weights must be finite, >= 0, with a positive sum, got "
                                 f"{w.tolist()}")
    return w / w.sum()


def _as_numpy(updates: Any) -> np.ndarray:
    import torch

    from ..aggregation import check_updates

    if isinstance(updates, (list, tuple)):
        lengths = sorted({int(np.asarray(u).size) for u in updates})
        if len(lengths) > 1:
            raise InvalidConfigError(f"updates have mismatched lengths {lengths}: every "
                                     "enclave must send a vector of the same model size d")
        updates = torch.stack([torch.as_tensor(np.asarray(u), dtype=torch.float32).reshape(-1)
                               for u in updates]) if updates else torch.empty(0)
    if isinstance(updates, np.ndarray):
        updates = torch.from_numpy(updates)
    check_updates(updates)
    return updates.detach().cpu().numpy()


def _seed_bytes(seed: int | None, what: str, round_index: int) -> bytes | None:
    if seed is None:
        return None
    return hashlib.sha256(f"citadel:{what}:{seed}:{round_index}".encode()).digest()


@dataclass
class MaskedRound:
    """One round's masked vectors and the facts about them.

    Attributes:
        masked: ``(n, d)`` uint32/uint64: encoding + mask mod ``2^bits`` per enclave.
        encoded: ``(n, d)``: the encodings alone (what masking hides).
        clipped: values clipped per enclave ``(n,)``.
        weights: the normalized FedAvg weights ``(n,)``.
    """

    masked: np.ndarray
    encoded: np.ndarray
    clipped: np.ndarray
    weights: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def mask_round(updates: Any, weights: Any = None, *, scheme: str = "pairwise", bits: int = 32,
               clip: float = 1.0, seed: int | None = None, round_index: int = 0,
               neighbors: int | str | None = _masks.AUTO, allow_single: bool = False,
               masking: bool = True, keep_encoded: bool = True) -> MaskedRound:
    """Encode and mask a round's updates in one process (see :func:`masked_updates`);
    ``masking=False`` leaves the masks out (the negative control of the leakage tests);
    ``keep_encoded=False`` encodes and masks each row in one pass, as an enclave does
    (``encoded`` is then ``masked``). The admin scheme's cost includes the admin's own work
    (expanding every seed once more for the last enclave's correction), as in the runtime."""
    if scheme not in _masks.SCHEMES:
        raise InvalidConfigError(f"unknown mask scheme {scheme!r}; choose one of: "
                                 f"{', '.join(_masks.SCHEMES)}")
    bits = _fixed.check_bits(bits)
    clip = _fixed.check_clip(clip)
    _masks.check_neighbors(neighbors)
    x = _as_numpy(updates)
    n, d = x.shape
    check_round(n, allow_single=allow_single)
    w = normalized_weights(n, weights)
    dtype = _fixed.uint_dtype(bits)
    clipped = np.zeros(n, dtype=np.int64)
    streams: list[list[tuple[bytes, bool]]] = [[] for _ in range(n)]
    correction = None
    info: dict[str, Any] = {"scheme": scheme, "bits": bits, "clip": clip, "masking": masking}
    if masking and n > 1:
        if scheme == "admin":
            root = _seed_bytes(seed, "admin", round_index) or os.urandom(32)
            for i in range(n - 1):
                streams[i] = [(_masks.admin_seed(root, i), False)]
            # the admin's correction for the last enclave: minus every other mask
            correction = np.zeros(d, dtype=dtype)
            for i in range(n - 1):
                _masks.prg_add(streams[i][0][0], correction, subtract=True)
        else:
            keys = _masks.x25519_keys(n, None if seed is None else seed * 1_000_003 + round_index)
            nonce = _seed_bytes(seed, "nonce", round_index) or os.urandom(16)
            tag = _masks.round_tag(round_index, nonce)
            graph = _masks.mask_neighbors(n, neighbors, tag)
            pubs = [_masks.public_bytes(k) for k in keys]
            for i in range(n):
                streams[i] = _masks.pairwise_streams(i, keys[i], {j: pubs[j] for j in graph[i]},
                                                     tag)
            info["neighbors"] = _masks.resolve_neighbors(n, neighbors)
    masked = np.empty((n, d), dtype=dtype)
    encoded = np.empty((n, d), dtype=dtype) if keep_encoded else masked
    for i in range(n):
        if keep_encoded:  # the encodings kept apart, the masks added to a copy
            _, clipped[i] = _fixed.encode(x[i], clip=clip, bits=bits, weight=w[i],
                                          out=encoded[i])
            masked[i] = encoded[i]
            for key, subtract in streams[i]:
                _masks.prg_add(key, masked[i], subtract=subtract)
        else:  # one pass per enclave, as inside an enclave
            _, clipped[i] = _masks.encode_masked(x[i], clip=clip, bits=bits, weight=w[i],
                                                 streams=streams[i], out=masked[i])
    if correction is not None:
        np.add(masked[n - 1], correction, out=masked[n - 1])
    return MaskedRound(masked, encoded, clipped, w, info)


def masked_updates(updates: Any, weights: Any = None, *, scheme: str = "pairwise",
                   bits: int = 32, clip: float = 1.0, seed: int | None = None,
                   round_index: int = 0, neighbors: int | str | None = _masks.AUTO,
                   allow_single: bool = False) -> torch.Tensor:
    """What leaves each training enclave: ``encode(w_i * clip(u_i)) + mask_i mod 2^bits``.

    Args:
        updates: float ``(n, d)`` (tensor or array), row ``i`` = enclave ``i``'s update.
        weights: sample counts ``(n,)`` (normalized here; uniform when ``None``).
        scheme: ``"pairwise"`` (default) or ``"admin"``.
        bits: 32 (default) or 64.
        clip: values are clipped to ``[-clip, clip]`` (1.0).
        seed: makes the masks reproducible (``None``: fresh OS entropy, as in deployment).
        round_index: the round; with a seed, every round gets different masks.
        neighbors: pairwise only: each enclave's mask neighbours on a ring shuffled every
            round (SecAgg+'s sparse graph): an even ``k``, ``"auto"`` (default: the smallest
            even ``k >= log2 n``, e.g. 6 at ``n = 32``; all pairs when ``k >= n - 1``) or
            ``None`` for all pairs. The masks cancel exactly over any of these graphs; the
            privacy trade-off (a coalition of an enclave's ``k`` neighbours can unmask it,
            against ``n - 1`` with all pairs) is in :mod:`._masks`.

    Returns:
        int64 ``(n, d)`` with values in ``[0, 2^32)`` for ``bits=32``; for ``bits=64`` the
        two's-complement int64 view of the ``uint64`` values.
    """
    import torch

    r = mask_round(updates, weights, scheme=scheme, bits=bits, clip=clip, seed=seed,
                   round_index=round_index, neighbors=neighbors, allow_single=allow_single,
                   keep_encoded=False)
    out = r.masked.astype(np.int64) if bits == 32 else r.masked.view(np.int64)
    return torch.from_numpy(np.ascontiguousarray(out))


def aggregation_tree(n: int, fan_in: int) -> list[list[list[int]]]:
    """The aggregator tree over ``n`` leaves with ``fan_in`` children per node.

    Returns one list per level, bottom up; level ``l`` lists its nodes, each the indices of
    its children in level ``l - 1`` (level 0's children are the enclaves). The last level has
    one node: the root. ``n = 1`` gives a root with one child.
    """
    check_int("n", n, 1)
    check_round(max(n, 2), fan_in=fan_in)
    levels: list[list[list[int]]] = []
    width = n
    while True:
        nodes = [list(range(s, min(s + fan_in, width))) for s in range(0, width, fan_in)]
        levels.append(nodes)
        if len(nodes) == 1:
            return levels
        width = len(nodes)


def tree_sum(vectors: np.ndarray | Sequence[np.ndarray], fan_in: int
             ) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """Add ``vectors`` ``(n, d)`` (or ``n`` arrays ``(d,)``; unsigned, mod 2^bits) up the
    aggregator tree.

    Returns:
        ``(total, partials)``: the root's sum ``(d,)`` and, per level, the partial sum each
        node forwards (what its parent sees; the root's is ``total``).
    """
    current = list(vectors)
    dtype = current[0].dtype
    partials: list[list[np.ndarray]] = []
    for level in aggregation_tree(len(current), fan_in):
        nxt = []
        for node in level:  # one copy per node, the other children added in place
            acc = np.array(current[node[0]], dtype=dtype, copy=True)
            for c in node[1:]:
                np.add(acc, current[c], out=acc)
            nxt.append(acc)
        current = nxt
        partials.append(current)
    return current[0], partials


def secure_aggregate(updates: Any, weights: Any = None, *, scheme: str = "pairwise",
                     fan_in: int = 4, bits: int = 32, clip: float = 1.0,
                     seed: int | None = None, round_index: int = 0,
                     neighbors: int | str | None = _masks.AUTO, allow_single: bool = False
                     ) -> AggregationResult:
    """Citadel's secure weighted mean of ``updates`` ``(n, d)``, computed in one process.

    Each row is clipped to ``[-clip, clip]``, weighted by its normalized FedAvg weight,
    encoded mod ``2^bits`` and masked (:func:`masked_updates`); the masked rows are summed up
    an aggregator tree of fan-in ``fan_in`` and the root's sum is decoded.

    Args: see :func:`masked_updates`; ``fan_in`` (4) is the children per aggregator.

    Returns:
        ``AggregationResult(update (d,) float32, client_weights (n,), info)`` with
        ``info = {"scheme", "bits", "clip", "fan_in", "clipped" (total), "clipped_per_client",
        "max_error" (the fixed-point bound), "tree_levels"}``.

    Raises:
        InvalidConfigError: n = 1 without ``allow_single``, ``fan_in < 2``, bad shapes,
            weights, bits or clip, NaN/Inf in an update.
    """
    import torch

    from ..aggregation import AggregationResult

    check_round(2, fan_in=fan_in)
    r = mask_round(updates, weights, scheme=scheme, bits=bits, clip=clip, seed=seed,
                   round_index=round_index, neighbors=neighbors, allow_single=allow_single,
                   keep_encoded=False)
    total, partials = tree_sum(r.masked, fan_in)
    mean = _fixed.decode(total, clip=clip, bits=bits)
    n = r.masked.shape[0]
    info = {**r.info, "fan_in": fan_in, "clipped": int(r.clipped.sum()),
            "clipped_per_client": r.clipped.tolist(),
            "max_error": _fixed.max_error(n, clip, bits), "tree_levels": len(partials)}
    return AggregationResult(torch.from_numpy(mean.astype(np.float32)),
                             torch.from_numpy(r.weights.astype(np.float32)), info)


@dataclass
class SecureAggregator:
    """:func:`secure_aggregate` as an :class:`~carbide.federated.Aggregator` for
    :class:`~carbide.federated.Simulation` (fresh masks every call: the round counter is part
    of the mask seed)."""

    scheme: str = "pairwise"
    fan_in: int = 4
    bits: int = 32
    clip: float = 1.0
    seed: int | None = None
    neighbors: int | str | None = _masks.AUTO
    allow_single: bool = False
    name: str = "citadel"
    rounds_done: int = 0
    clipped_total: int = 0

    def __post_init__(self) -> None:
        if self.scheme not in _masks.SCHEMES:
            raise InvalidConfigError(f"unknown mask scheme {self.scheme!r}; choose one of: "
                                     f"{', '.join(_masks.SCHEMES)}")
        _fixed.check_bits(self.bits)
        _fixed.check_clip(self.clip)
        _masks.check_neighbors(self.neighbors)
        check_round(2, fan_in=self.fan_in)

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor,
                 client_ids: Sequence[str]) -> AggregationResult:
        res = secure_aggregate(updates, weights, scheme=self.scheme, fan_in=self.fan_in,
                               bits=self.bits, clip=self.clip, seed=self.seed,
                               round_index=self.rounds_done, neighbors=self.neighbors,
                               allow_single=self.allow_single)
        self.rounds_done += 1
        self.clipped_total += res.info["clipped"]
        return res

    def state_dict(self) -> dict[str, int]:
        return {"rounds_done": self.rounds_done, "clipped_total": self.clipped_total}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.rounds_done = int(state["rounds_done"])
        self.clipped_total = int(state["clipped_total"])

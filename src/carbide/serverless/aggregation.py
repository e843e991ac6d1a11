"""Three ways serverless workers average their updates through the store, all exact.

Each of ``n`` workers holds an update vector of ``P`` values (float32, flattened as in
:func:`carbide.federated.aggregation.flatten`). Every scheme ends with the exact
(sample-weighted) mean, computed in float64 and rounded once to float32:

- ``hierarchical`` (SMLT, Ali et al., IPDPS 2022, arXiv 2205.01853, Section IV-B): each worker
  splits its update into ``m`` shards (sizes differ by at most one when ``m`` does not divide
  ``P``), worker ``j`` reduces every shard ``k`` with ``k % n == j`` across all workers and
  publishes it, and every worker fetches the ``m`` reduced shards: ``O(P)`` bytes per worker.
  (The official prototype's reducer copies worker 0's shard instead of averaging; here the
  reducer really averages.)
- ``download_all`` (Siren-like): every worker publishes its update and downloads all ``n``:
  ``O(nP)`` bytes per worker.
- ``parameter_server`` (Cirrus-like): one extra aggregator function downloads the ``n`` updates
  and publishes the mean; workers move ``2P``, the aggregator ``(n + 1) P``.

Workers run concurrently and never talk to each other: a worker waits for its peers' keys in
the store (:meth:`~carbide.serverless.store.TensorStore.wait`). Role ``n`` is the parameter
server's aggregator. The functions here are what one function (or thread) runs;
:func:`run_round` runs a whole round with one thread per role, and :class:`StoreAggregator`
puts the schemes behind the :class:`carbide.federated.aggregation.Aggregator` protocol.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._validate import check_int
from ..exceptions import InvalidConfigError
from ._keys import Keys

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from .store import TensorStore

__all__ = ["SCHEMES", "RoundResult", "StoreAggregator", "aggregate", "check_scheme",
           "exact_mean", "expected_bytes", "owned_shards", "param_shards", "push_update",
           "run_round", "shard_bounds"]

log = logging.getLogger(__name__)

#: The aggregation schemes.
SCHEMES: tuple[str, ...] = ("hierarchical", "download_all", "parameter_server")

#: ``step(shard, mean_shard)``: what the owner of a reduced shard does with it (e.g. an SGD step
#: on the matching parameter shard).
Step = Callable[[int, "torch.Tensor"], None]


def check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise InvalidConfigError(
            f"unknown aggregation scheme {scheme!r}; choose one of: {', '.join(SCHEMES)}")
    return scheme


def shard_bounds(num_params: int, shards: int) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` of ``shards`` contiguous shards of ``num_params`` values; the
    first ``num_params % shards`` shards hold one value more (as ``torch.tensor_split``).

    Raises:
        InvalidConfigError: ``shards < 1`` or ``shards > num_params``.
    """
    check_int("num_params", num_params, 1)
    check_int("shards", shards, 1)
    if shards > num_params:
        raise InvalidConfigError(
            f"shards ({shards}) must not exceed the number of parameters ({num_params}); "
            "use at most one shard per parameter")
    base, extra = divmod(num_params, shards)
    out, start = [], 0
    for k in range(shards):
        stop = start + base + (k < extra)
        out.append((start, stop))
        start = stop
    return out


def owned_shards(worker: int, workers: int, shards: int) -> list[int]:
    """The shards worker ``worker`` reduces in ``hierarchical``: ``k % workers == worker``."""
    return list(range(worker, shards, workers))


def param_shards(scheme: str, shards: int) -> int:
    """How many shards the parameters are kept in: ``shards`` for ``hierarchical``, else 1."""
    return shards if check_scheme(scheme) == "hierarchical" else 1


def exact_mean(rows: Sequence[torch.Tensor], weights: Sequence[float] | None = None
               ) -> torch.Tensor:
    """The weighted mean of equal-length rows, summed in float64, rounded once to float32.

    Args:
        rows: ``n`` tensors of shape ``(k,)``, in worker order.
        weights: ``n`` non-negative weights with a positive sum (default: all 1).

    Returns:
        float32 ``(k,)``.
    """
    import torch

    stack = torch.stack([r.reshape(-1) for r in rows]).double()
    if weights is None:
        return stack.mean(0).float()
    w = torch.tensor(list(weights), dtype=torch.float64)
    if (w < 0).any() or float(w.sum()) <= 0:
        raise InvalidConfigError(f"weights must be >= 0 with a positive sum, got {w.tolist()}")
    return (w @ stack / w.sum()).float()


def expected_bytes(scheme: str, workers: int, num_params: int, shards: int, *,
                   itemsize: int = 4) -> dict[str, float]:
    """Payload bytes one round moves per function, by the schemes' formulas (no headers).

    Returns:
        ``{"worker": mean over the n workers of up + down, "max_function": the busiest
        function (the aggregator for ``parameter_server``)}``. ``hierarchical``:
        ``2P`` (push + pull) plus, for a worker owning ``o`` shards of ``P/m``, ``o (n+1) P/m``
        (``3P + P/n`` when ``m = n``). ``download_all``: ``(n + 1) P``. ``parameter_server``:
        ``2P`` per worker, ``(n + 1) P`` for the aggregator.
    """
    check_scheme(scheme)
    n, p = check_int("workers", workers, 1), num_params
    if scheme == "download_all":
        per = float((n + 1) * p)
        return {"worker": per * itemsize, "max_function": per * itemsize}
    if scheme == "parameter_server":
        return {"worker": 2.0 * p * itemsize, "max_function": float((n + 1) * p * itemsize)}
    bounds = shard_bounds(p, shards)
    per_worker = [2 * p + sum((n + 1) * (bounds[k][1] - bounds[k][0])
                              for k in owned_shards(i, n, shards)) for i in range(n)]
    return {"worker": sum(per_worker) / n * itemsize, "max_function": max(per_worker) * itemsize}


def _split(update: torch.Tensor, bounds: Sequence[tuple[int, int]]) -> list[torch.Tensor]:
    return [update[a:b] for a, b in bounds]


def push_update(store: TensorStore, keys: Keys, scheme: str, round_: int, role: int,
                shards: int, update: torch.Tensor | None, *, num_params: int,
                weight: float = 1.0) -> None:
    """Worker ``role``'s push: its update split as ``scheme`` stores it (``shards`` pieces for
    ``hierarchical``, one otherwise) and its sample weight.

    Raises:
        InvalidConfigError: the update is not float ``(num_params,)``; it is rejected (and
            logged) before anything is stored.
    """
    import torch

    bounds = shard_bounds(num_params, shards if check_scheme(scheme) == "hierarchical" else 1)
    if update is None or update.ndim != 1 or update.numel() != num_params:
        got = None if update is None else tuple(update.shape)
        log.warning("rejected update of worker %d in round %d: shape %s, expected (%d,)",
                    role, round_, got, num_params)
        raise InvalidConfigError(
            f"worker {role}'s update has shape {got}; expected ({num_params},) float32 "
            "(flatten the model delta with carbide.federated.flatten)")
    update = update.detach().float()
    store.put_many([(keys.update(round_, role, k), s)
                    for k, s in enumerate(_split(update, bounds))]
                   + [(keys.weight(round_, role), torch.tensor([float(weight)],
                                                                dtype=torch.float64))])


def aggregate(
    store: TensorStore, keys: Keys, scheme: str, round_: int, role: int, workers: int,
    shards: int, update: torch.Tensor | None, *, num_params: int, weight: float = 1.0,
    timeout: float = 60.0, step: Step | None = None, pull: bool = True,
    pushed: bool = False, deadline: float | None = None,
) -> torch.Tensor | None:
    """One function's part of a round of ``scheme``; the bytes land in ``store``'s counters.

    Args:
        store: this function's own store client.
        keys: the job's key names.
        scheme: one of :data:`SCHEMES`.
        round_: the round number (part of every key, so re-runs are idempotent).
        role: ``0 .. workers - 1`` for a worker; ``workers`` for the parameter server's
            aggregator (``parameter_server`` only).
        workers: ``n``.
        shards: ``m`` (``hierarchical``; the other schemes move whole updates).
        update: this worker's update, float32 ``(num_params,)`` (``None`` for the aggregator).
        num_params: ``P``; an update of another shape is rejected before anything is stored.
        weight: the update's sample weight.
        timeout: seconds to wait for peers before
            :class:`~carbide.serverless.store.StoreTimeoutError`.
        step: called by the owner of each reduced shard with ``(shard, mean_shard)`` (an
            optimizer step on the parameter shard); ``download_all`` calls it on worker 0.
        pull: fetch the full mean at the end (a training round skips it: the next round pulls
            the stepped parameters instead; ``download_all`` always pulls, that is its mean).
        pushed: this worker's update is in the store already (:func:`push_update` ran in an
            earlier invocation, which checkpointed before its time limit); ``update`` is then
            ignored.
        deadline: ``time.monotonic()`` instant at which a function still waiting for peers
            stops with :class:`~carbide.serverless.store.TimeLimitReached` (its time-limit
            checkpoint point); ``None``: wait up to ``timeout``.

    Returns:
        The mean ``(num_params,)`` when pulled, else ``None``.
    """
    import torch

    check_scheme(scheme)
    n = workers
    is_aggregator = role == n
    if not (0 <= role < n or (is_aggregator and scheme == "parameter_server")):
        raise InvalidConfigError(f"role {role} is not a worker (0..{n - 1})"
                                 + (f" or the aggregator ({n})" if scheme == "parameter_server"
                                    else ""))
    if not is_aggregator and not pushed:
        push_update(store, keys, scheme, round_, role, shards, update, num_params=num_params,
                    weight=weight)
    wkeys = [keys.weight(round_, i) for i in range(n)]

    def weights() -> list[float]:
        store.wait(wkeys, timeout=timeout, deadline=deadline)
        return [float(t[0]) for t in store.get_many(wkeys)]

    def reduce(k: int) -> torch.Tensor:
        ukeys = [keys.update(round_, i, k) for i in range(n)]
        store.wait(ukeys, timeout=timeout, deadline=deadline)
        return exact_mean(store.get_many(ukeys), w)

    if scheme == "hierarchical":
        mine = owned_shards(role, n, shards)
        if mine:
            w = weights()
            for k in mine:
                mean = reduce(k)
                store.put(keys.reduced(round_, k), mean)
                if step is not None:
                    step(k, mean)
        if not pull:
            return None
        rkeys = [keys.reduced(round_, k) for k in range(shards)]
        store.wait(rkeys, timeout=timeout, deadline=deadline)
        return torch.cat(store.get_many(rkeys))
    if scheme == "parameter_server":
        if is_aggregator:
            w = weights()
            mean = reduce(0)
            store.put(keys.reduced(round_, 0), mean)
            if step is not None:
                step(0, mean)
            return mean
        if not pull:
            return None
        store.wait([keys.reduced(round_, 0)], timeout=timeout, deadline=deadline)
        return store.get(keys.reduced(round_, 0))
    # download_all: every worker fetches every update
    w = weights()
    mean = reduce(0)
    if step is not None and role == 0:
        step(0, mean)
    return mean


@dataclass
class RoundResult:
    """One aggregation round run by :func:`run_round`.

    Attributes:
        mean: what worker 0 ended with, float32 ``(P,)``.
        means: every worker's result (all equal for an exact scheme).
        bytes_per_role: payload bytes (up + down) per role; the aggregator is last for
            ``parameter_server``.
        seconds: wall time of the round (first push to last pull).
    """

    mean: torch.Tensor
    means: list[torch.Tensor]
    bytes_per_role: list[int]
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes_per_worker(self) -> float:
        """Mean payload bytes over the ``n`` workers (the aggregator excluded)."""
        n = len(self.means)
        return sum(self.bytes_per_role[:n]) / n


def run_round(url: str, scheme: str, updates: torch.Tensor, *, shards: int | None = None,
              weights: Sequence[float] | None = None, job: str = "round", round_: int = 0,
              timeout: float = 60.0, cleanup: bool = True) -> RoundResult:
    """Aggregate ``updates`` ``(n, P)`` through the store at ``url`` with one thread per role.

    Each thread opens its own connection, as a function would. ``shards`` defaults to ``n``.
    Round keys are deleted afterwards unless ``cleanup=False``.
    """
    from .store import TensorStore

    check_scheme(scheme)
    if updates.ndim != 2 or updates.shape[0] < 1:
        raise InvalidConfigError(f"updates must be (n, P) with n >= 1, got {tuple(updates.shape)}")
    n, p = updates.shape
    m = n if shards is None else shards
    shard_bounds(p, m)  # validates m against P before any thread starts
    keys = Keys(job)
    roles = n + (scheme == "parameter_server")
    stores = [TensorStore(url) for _ in range(roles)]
    results: list[Any] = [None] * roles
    errors: list[BaseException] = []
    start = threading.Barrier(roles)

    def body(role: int) -> None:
        try:
            start.wait()
            results[role] = aggregate(
                stores[role], keys, scheme, round_, role, n, m,
                updates[role] if role < n else None, num_params=p,
                weight=1.0 if weights is None or role >= n else float(weights[role]),
                timeout=timeout)
        except BaseException as exc:  # re-raised in the caller below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(r,), daemon=True) for r in range(roles)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    try:
        if errors:
            raise errors[0]
        return RoundResult(mean=results[0], means=results[:n],
                           bytes_per_role=[s.bytes_up + s.bytes_down for s in stores],
                           seconds=seconds, info={"requests": [s.requests for s in stores]})
    finally:
        if cleanup:
            for pattern in keys.round_patterns(round_):
                stores[0].delete_pattern(pattern)
        for s in stores:
            s.close()


@dataclass
class StoreAggregator:
    """A scheme behind :class:`carbide.federated.aggregation.Aggregator`: the rows of
    ``updates`` ``(n, d)`` go through the store as ``n`` concurrent workers would.

    Args:
        url: the store (``redis://``).
        scheme: one of :data:`SCHEMES` (default ``hierarchical``).
        shards: ``m`` (default ``n``).
    """

    url: str
    scheme: str = "hierarchical"
    shards: int | None = None
    name: str = "smlt"
    _round: int = 0

    def __post_init__(self) -> None:
        check_scheme(self.scheme)

    def __call__(self, updates: torch.Tensor, weights: torch.Tensor,
                 client_ids: Sequence[str]) -> Any:
        from ..federated.aggregation import AggregationResult, check_updates

        check_updates(updates, weights)
        res = run_round(self.url, self.scheme, updates, shards=self.shards,
                        weights=weights.double().tolist(), job=f"agg-{id(self):x}",
                        round_=self._round)
        self._round += 1
        w = weights.double()
        return AggregationResult(res.mean, (w / w.sum()).float(),
                                 {"bytes_per_worker": res.bytes_per_worker,
                                  "round_s": res.seconds, "scheme": self.scheme})

    def state_dict(self) -> dict[str, Any]:
        return {"round": self._round}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._round = int(state["round"])

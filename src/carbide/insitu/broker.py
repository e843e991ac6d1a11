"""The HPC-side broker: filter, aggregate and convert each rank's snapshots into a stream.

Paper: Li et al., "ElasticBroker: Combining HPC with Cloud to Provide Realtime Insights into
Simulations", arXiv 2010.04828 (extended as X-Composer, PASC '21). The authors' C++ library is
``broker_init(field, comm)`` / ``broker_put(ctx, step, values)`` / ``broker_finalize(ctx)`` over
Redis Streams; :class:`Broker` keeps those three roles:

- **filter**: spatial crop and downsampling (:mod:`carbide.insitu.filters`);
- **aggregate**: ranks grouped into contiguous regions, each region one stream
  ``carbide:<field>:<region>`` (:func:`~carbide.insitu.keys.stream_key`);
- **convert**: float32 bytes plus metadata (:mod:`carbide.insitu.codec`), never text.

Puts are asynchronous: :meth:`Broker.put` converts the array and hands it to a sender thread
through a bounded queue, so the simulation only waits when the queue is full (back-pressure). The
sender pipelines XADDs in batches. Undelivered data are never dropped silently:

- the stream length is capped *softly* by ``maxlen``: while a stream holds ``maxlen`` entries
  or more (consumers acknowledge and delete what they have analysed), the sender waits, and the
  queue behind it fills and blocks :meth:`put`. (Redis' own ``XADD MAXLEN`` would trim unread
  entries, i.e. lose data, so it is not used.)
- a connection error is retried with exponential backoff for up to ``retry_timeout_s``; while
  it lasts, snapshots wait in the queue (the bound). If the endpoint stays away,
  :class:`~carbide.exceptions.DeliveryError` is raised from the next :meth:`put` or from
  :meth:`finalize`, saying how many snapshots were not delivered.

Delivery is at-least-once: a batch whose reply was lost is sent again, so consumers
de-duplicate by ``(rank, step)``.
"""

from __future__ import annotations

import os
import queue
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._imports import optional_import
from .._validate import check_int, check_real
from ..exceptions import DeliveryError, InvalidConfigError
from .codec import Snapshot, encode_eos, encode_snapshot
from .endpoints import region_of, region_ranks, resolve_endpoints
from .filters import Crop, Downsample, Filter, compose
from .keys import PREFIX, stream_key

__all__ = ["Broker", "BrokerStats", "RankStats"]

_STOP = object()


@dataclass(frozen=True)
class RankStats:
    """What one rank's broker measured (times in seconds)."""

    rank: int
    puts: int
    delivered: int
    bytes: int
    put_latency_mean_s: float
    put_latency_std_s: float
    delivery_latency_mean_s: float
    retries: int
    duration_s: float


@dataclass(frozen=True)
class BrokerStats:
    """The broker's figures reduced over all ranks.

    ``put_latency_*`` is the time :meth:`Broker.put` held the simulation (conversion and, when the
    queue is full, back-pressure); ``delivery_latency_mean_s`` the time from ``put`` to the
    endpoint's acknowledgement; ``throughput_mb_s`` the bytes all ranks delivered over the
    longest rank's span from first put to end of finalize (MB = 10^6 bytes).
    """

    ranks: int
    puts: int
    delivered: int
    bytes: int
    put_latency_mean_s: float
    put_latency_std_s: float
    delivery_latency_mean_s: float
    throughput_mb_s: float
    retries: int
    duration_s: float
    per_rank: list[RankStats] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Broker:
    """Stream one field of an MPI simulation to Redis Streams.

    Args:
        field: field name (one broker per field, like the paper's ``broker_init``).
        comm: an mpi4py communicator (default: a single rank, rank 0 of 1).
        endpoints: a Redis URL for every rank, a list with one URL per rank, or an endpoint file
            (line *i* serves rank *i*); see :func:`~carbide.insitu.endpoints.resolve_endpoints`.
        regions: number of region streams the ranks are grouped into (default 1).
        stride: keep every ``stride``-th point on each axis (default 1).
        crop: optional ``((start, stop), ...)`` box of the local array to keep.
        dtype: wire dtype (default float32).
        queue_size: snapshots buffered between :meth:`put` and the sender (default 16).
        batch: snapshots per pipelined round trip (default 4).
        maxlen: soft cap on a stream's unacknowledged length (default 512).
        retry_timeout_s: how long a broken connection is retried before failing (default 30).
        prefix: stream key prefix (default ``"carbide"``).

    Example::

        with EmbeddedRedis() as server:
            broker = Broker("vorticity", comm, endpoints=server.url, regions=2)
            for step in range(steps):
                sim.step()
                broker.put(step, sim.snapshot("vorticity"))
            stats = broker.finalize()
    """

    def __init__(
        self,
        field: str,
        comm: Any = None,
        *,
        endpoints: str | os.PathLike[str] | Sequence[str],
        regions: int = 1,
        stride: int = 1,
        crop: Sequence[tuple[int, int]] | None = None,
        dtype: str = "float32",
        queue_size: int = 16,
        batch: int = 4,
        maxlen: int = 512,
        retry_timeout_s: float = 30.0,
        prefix: str = PREFIX,
    ):
        if not isinstance(field, str) or not field or ":" in field:
            raise InvalidConfigError(f"field must be a non-empty name without ':', got {field!r}")
        self.field = field
        self.comm = comm
        self.rank = 0 if comm is None else int(comm.Get_rank())
        self.size = 1 if comm is None else int(comm.Get_size())
        check_int("regions", regions, 1)
        self.regions = regions
        self.region = region_of(self.rank, self.size, regions)
        members = region_ranks(self.region, self.size, regions)
        self.localid, self.members = members.index(self.rank), len(members)
        self.endpoint = resolve_endpoints(endpoints, size=self.size, regions=regions)[self.rank]
        self.stream = stream_key(field, self.region, prefix=prefix)
        filters: list[Filter] = []
        if crop is not None:
            filters.append(Crop(tuple((int(a), int(b)) for a, b in crop)))
        filters.append(Downsample(check_int("stride", stride, 1)))
        self._filter = compose(filters)
        try:
            self.dtype = np.dtype(dtype)
        except TypeError as exc:
            raise InvalidConfigError(f"dtype {dtype!r} is not a numpy dtype") from exc
        self.batch = check_int("batch", batch, 1)
        self.maxlen = check_int("maxlen", maxlen, 1)
        self.retry_timeout_s = check_real("retry_timeout_s", retry_timeout_s, 0.0, 1e6,
                                          lo_open=True)
        self._queue: queue.Queue = queue.Queue(maxsize=check_int("queue_size", queue_size, 1))

        redis = optional_import("redis", "insitu")
        self._redis_errors = (redis.ConnectionError, redis.TimeoutError)
        self._client = redis.Redis.from_url(self.endpoint, socket_timeout=10,
                                            socket_connect_timeout=2)
        self._shape: tuple[int, ...] | None = None
        self._puts = 0
        self._put_latencies: list[float] = []
        self._delivery_latencies: list[float] = []
        self._delivered = 0
        self._bytes = 0
        self._retries = 0
        self._t0: float | None = None
        self._error: DeliveryError | None = None
        self._finalized = False
        self._stats: BrokerStats | None = None
        self._sender = threading.Thread(target=self._send_loop, name=f"broker-{self.rank}",
                                        daemon=True)
        self._sender.start()

    # ------------------------------------------------------------------ producer side

    def put(self, step: int, values: np.ndarray) -> None:
        """Filter, convert and queue this rank's ``values`` at ``step`` (returns once queued).

        Args:
            step: simulation step (an int; with the rank it identifies the snapshot).
            values: the rank's local array, any shape; every put of a rank must give the same
                shape after filtering.

        Raises:
            InvalidConfigError: the shape changed from earlier puts, or values are not numeric.
            DeliveryError: the sender gave up on the endpoint; nothing more is accepted.
        """
        t = time.perf_counter()
        if self._finalized:
            raise InvalidConfigError("put() after finalize(): this broker is closed")
        self._raise_if_failed()
        arr = np.asarray(values)
        if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise InvalidConfigError(f"put(step={step}) got a non-numeric array of {arr.dtype}")
        arr = np.ascontiguousarray(self._filter(arr), dtype=self.dtype)
        if self._shape is None:
            self._shape = arr.shape
        elif arr.shape != self._shape:
            raise InvalidConfigError(
                f"put(step={step}) on rank {self.rank}: shape {arr.shape} after filtering differs "
                f"from the stream's shape {self._shape}; every snapshot of a stream must match")
        if self._t0 is None:
            self._t0 = t
        snap = Snapshot(step=int(step), seq=self._puts, rank=self.rank, localid=self.localid,
                        region=self.region, members=self.members, field=self.field, data=arr,
                        ts=time.time())
        while True:
            try:
                self._queue.put((snap, t), timeout=0.1)
                break
            except queue.Full:
                self._raise_if_failed()
        self._puts += 1
        self._put_latencies.append(time.perf_counter() - t)

    def finalize(self) -> BrokerStats:
        """Flush the queue, send this rank's end-of-stream marker, and return the statistics
        reduced over all ranks (a collective call when ``comm`` is given).

        Raises:
            DeliveryError: some snapshots could not be delivered (the count is in the message).
        """
        if self._stats is not None:
            return self._stats
        self._finalized = True
        self._queue.put((_STOP, None))
        self._sender.join()
        error = self._error
        if error is None:
            try:
                self._with_retry(lambda: self._client.xadd(
                    self.stream, encode_eos(rank=self.rank, localid=self.localid,
                                            region=self.region, members=self.members,
                                            sent=self._puts)))
            except DeliveryError as exc:
                error = DeliveryError(f"{exc}; the end-of-stream marker of rank {self.rank} "
                                      "was not delivered", undelivered=0)
        t1 = time.perf_counter()
        lat = self._put_latencies
        mine = RankStats(
            rank=self.rank, puts=self._puts, delivered=self._delivered, bytes=self._bytes,
            put_latency_mean_s=statistics.fmean(lat) if lat else 0.0,
            put_latency_std_s=statistics.pstdev(lat) if len(lat) > 1 else 0.0,
            delivery_latency_mean_s=(statistics.fmean(self._delivery_latencies)
                                     if self._delivery_latencies else 0.0),
            retries=self._retries,
            duration_s=(t1 - self._t0) if self._t0 is not None else 0.0,
        )
        payload = (mine, lat, None if error is None else (str(error), error.undelivered))
        gathered = [payload] if self.comm is None else self.comm.allgather(payload)
        self._client.close()
        failures = [(r[0].rank, r[2]) for r in gathered if r[2] is not None]
        if failures:
            total = sum(f[1][1] for f in failures)
            detail = "; ".join(f"rank {rank}: {msg}" for rank, (msg, _) in failures)
            raise DeliveryError(f"{total} snapshot(s) were not delivered ({detail})",
                                undelivered=total)
        ranks = [g[0] for g in gathered]
        all_lat = [x for g in gathered for x in g[1]]
        span = max(r.duration_s for r in ranks)
        total_bytes = sum(r.bytes for r in ranks)
        self._stats = BrokerStats(
            ranks=len(ranks), puts=sum(r.puts for r in ranks),
            delivered=sum(r.delivered for r in ranks), bytes=total_bytes,
            put_latency_mean_s=statistics.fmean(all_lat) if all_lat else 0.0,
            put_latency_std_s=statistics.pstdev(all_lat) if len(all_lat) > 1 else 0.0,
            delivery_latency_mean_s=statistics.fmean(r.delivery_latency_mean_s for r in ranks),
            throughput_mb_s=total_bytes / span / 1e6 if span > 0 else 0.0,
            retries=sum(r.retries for r in ranks), duration_s=span, per_rank=ranks,
        )
        return self._stats

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.finalize()
        else:  # the simulation failed: stop the sender, keep the original exception
            self._finalized = True
            self._queue.put((_STOP, None))
            self._sender.join(timeout=self.retry_timeout_s + 5)

    def __repr__(self) -> str:
        return (f"Broker(field={self.field!r}, rank={self.rank}/{self.size}, "
                f"stream={self.stream!r}, endpoint={self.endpoint!r})")

    # ------------------------------------------------------------------ sender thread

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _with_retry(self, action: Any, *, pending: int = 0) -> Any:
        """Run ``action`` (a round trip), retrying connection errors with exponential backoff
        for up to ``retry_timeout_s``; then raise :class:`DeliveryError`."""
        start = time.monotonic()
        delay = 0.05
        while True:
            try:
                return action()
            except self._redis_errors as exc:
                waited = time.monotonic() - start
                if waited >= self.retry_timeout_s:
                    raise DeliveryError(
                        f"endpoint {self.endpoint} unreachable for {waited:.1f} s "
                        f"(retry_timeout_s={self.retry_timeout_s}): {exc}",
                        undelivered=pending) from exc
                self._retries += 1
                time.sleep(min(delay, max(0.0, self.retry_timeout_s - waited)))
                delay = min(delay * 2, 2.0)

    def _send_batch(self, items: list[tuple[Snapshot, float]]) -> int:
        def round_trip() -> int:
            pipe = self._client.pipeline(transaction=False)
            for snap, _ in items:
                pipe.xadd(self.stream, encode_snapshot(snap))
            pipe.xlen(self.stream)
            return int(pipe.execute()[-1])

        length = self._with_retry(round_trip, pending=len(items))
        now = time.perf_counter()
        for snap, t in items:
            self._delivery_latencies.append(now - t)
            self._bytes += snap.data.nbytes
        self._delivered += len(items)
        return length

    def _wait_below_cap(self, length: int) -> None:
        """Back-pressure: wait while the stream holds ``maxlen`` entries or more."""
        delay = 0.005
        while length >= self.maxlen:
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
            length = int(self._with_retry(lambda: self._client.xlen(self.stream)))

    def _send_loop(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            items = []
            while True:
                if item[0] is _STOP:
                    stop = True
                    break
                items.append(item)
                if len(items) >= self.batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if not items:
                continue
            try:
                self._wait_below_cap(self._send_batch(items))
            except DeliveryError as exc:
                # Count what is still queued as undelivered, then unblock put() for good.
                left = 0
                while True:
                    try:
                        rest = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if rest[0] is not _STOP:
                        left += 1
                undelivered = len(items) + left
                self._error = DeliveryError(
                    f"{exc}; {undelivered} snapshot(s) of stream {self.stream} not delivered",
                    undelivered=undelivered)
                return

"""The embedded analysis engine: a Redis consumer-group reader running windowed DMD.

One :class:`DMDConsumer` reads one or more region streams through a consumer group (default
``dmd``), feeds a :class:`~carbide.insitu.assembly.RegionWindows` per region, and publishes each
window's result to the results stream ``<prefix>:<field>:dmd``.

Delivery and failover (at-least-once in, exactly-once out):

- entries are acknowledged (XACK) and deleted (XDEL, which is what lets the broker's soft
  ``maxlen`` cap measure the backlog) only once no later window needs them; publishing a result,
  recording the region's next window in the hash ``<prefix>:<field>:progress`` and acknowledging
  happen in one MULTI/EXEC transaction, so a window is published exactly once;
- a consumer that dies keeps its unacknowledged entries in the group's pending list; another
  consumer of the same group claims them with XAUTOCLAIM once they have been idle
  ``claim_idle_ms``, reads the region's progress, and rebuilds the open windows. No window is
  lost.

Run one consumer per set of regions (a region's windows need all of its entries, so two live
consumers must not share a region); for more analysis throughput, split regions across consumer
processes or use the Spark engine (:mod:`carbide.insitu.spark`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from .._imports import optional_import
from .._validate import check_int
from ..exceptions import InvalidConfigError
from .assembly import RegionWindows, WindowResult
from .codec import Snapshot, decode_entry
from .keys import GROUP, PREFIX, progress_key, results_key, stream_key

__all__ = ["DMDConsumer", "read_results"]


class DMDConsumer:
    """Consumer-group reader that turns region streams into DMD results.

    Args:
        url: Redis endpoint of the streams.
        field: the broker's field name.
        regions: region ids this consumer analyses.
        window, stride, rank, time_per_step: see :class:`~carbide.insitu.assembly.RegionWindows`.
        group: consumer group (created if missing, from the start of the stream).
        name: this consumer's name in the group (distinct per live consumer).
        claim_idle_ms: pending entries idle this long are claimed from dead consumers.
        count: entries per read.
        prefix: stream key prefix, as the broker's.
    """

    def __init__(self, url: str, field: str, regions: Sequence[int], *, window: int,
                 stride: int | None = None, rank: int = 8, time_per_step: float = 1.0,
                 group: str = GROUP, name: str = "consumer-0", claim_idle_ms: int = 10_000,
                 count: int = 64, prefix: str = PREFIX):
        redis = optional_import("redis", "insitu")
        self.url, self.field, self.group, self.name, self.prefix = url, field, group, name, prefix
        self.regions = [int(r) for r in regions]
        if not self.regions:
            raise InvalidConfigError("a DMDConsumer needs at least one region")
        self.claim_idle_ms = check_int("claim_idle_ms", claim_idle_ms, 0)
        self.count = check_int("count", count, 1)
        self._client = redis.Redis.from_url(url)
        self.streams = {r: stream_key(field, r, prefix=prefix) for r in self.regions}
        self.results_stream = results_key(field, prefix=prefix)
        self.progress = progress_key(field, prefix=prefix)
        for stream in self.streams.values():
            try:
                self._client.xgroup_create(stream, group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        done = self._client.hmget(self.progress, [str(r) for r in self.regions])
        self.state = {
            r: RegionWindows(r, window=window, stride=stride, rank=rank,
                             time_per_step=time_per_step,
                             next_window=int(d) if d is not None else 0)
            for r, d in zip(self.regions, done, strict=True)
        }
        self._ids: dict[int, dict[str, int]] = {r: {} for r in self.regions}  # entry id -> seq
        self._eos_ids: dict[int, list[str]] = {r: [] for r in self.regions}
        self.results: list[WindowResult] = []
        self.entries_read = 0
        self.claimed = 0

    # -------------------------------------------------------------- reading

    def _ingest(self, region: int, entries: Iterable[tuple[Any, dict[Any, Any]]]) -> None:
        st = self.state[region]
        for entry_id, fields in entries:
            if fields is None:  # deleted while pending
                continue
            eid = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            self.entries_read += 1
            item = decode_entry(fields)
            if isinstance(item, Snapshot):
                st.add(item)  # a duplicate is acknowledged with the window that covers it
                self._ids[region][eid] = item.seq
            else:
                st.end_of_stream(localid=item["localid"], members=item["members"],
                                 sent=item["sent"])
                self._eos_ids[region].append(eid)

    def _claim(self) -> None:
        for region, stream in self.streams.items():
            start = "0-0"
            while True:
                reply = self._client.xautoclaim(stream, self.group, self.name,
                                                min_idle_time=self.claim_idle_ms,
                                                start_id=start, count=self.count)
                start, entries = reply[0], reply[1]
                self.claimed += len(entries)
                self._ingest(region, entries)
                if start in (b"0-0", "0-0"):
                    break

    def _own_pending(self) -> None:
        """Re-read this consumer's own pending entries (after a restart under the same name)."""
        for region, stream in self.streams.items():
            last = "0"
            while True:
                reply = self._client.xreadgroup(self.group, self.name, {stream: last},
                                                count=self.count)
                entries = reply[0][1] if reply else []
                if not entries:
                    break
                self._ingest(region, entries)
                last = entries[-1][0]

    def poll(self, block_ms: int = 200) -> list[WindowResult]:
        """One round: claim idle pending entries, read new ones, analyse and publish what is
        ready. Returns the new results."""
        self._claim()
        active = {self.streams[r]: ">" for r in self.regions if not self.state[r].finished}
        if active:
            reply = self._client.xreadgroup(self.group, self.name, active, count=self.count,
                                            block=block_ms)
            by_stream = {self.streams[r]: r for r in self.regions}
            for stream, entries in reply or []:
                key = stream.decode() if isinstance(stream, bytes) else stream
                self._ingest(by_stream[key], entries)
        new = []
        for region in self.regions:
            for res in self.state[region].ready():
                self._publish(region, res)
                new.append(res)
            if self.state[region].finished:
                self._finish(region)
        self.results.extend(new)
        return new

    def run(self, *, timeout_s: float = 600.0, block_ms: int = 200,
            stop: Any = None) -> list[WindowResult]:
        """Poll until every region is finished (all end-of-stream markers seen), or until
        ``stop`` (a ``threading.Event``) is set.

        Raises:
            TimeoutError: not finished within ``timeout_s`` (the message lists what is missing).
        """
        self._own_pending()
        deadline = time.monotonic() + timeout_s
        while not self.finished and not (stop is not None and stop.is_set()):
            if time.monotonic() > deadline:
                missing = {r: (st.next_window, st.total_sent) for r, st in self.state.items()
                           if not st.finished}
                raise TimeoutError(
                    f"DMD consumer {self.name}: regions not finished after {timeout_s} s "
                    f"(region: (next window, snapshots per rank if known)) {missing}")
            self.poll(block_ms=block_ms)
        return self.results

    @property
    def finished(self) -> bool:
        return all(st.finished for st in self.state.values())

    # -------------------------------------------------------------- writing

    def _publish(self, region: int, res: WindowResult) -> None:
        st = self.state[region]
        done_ids = [eid for eid, seq in self._ids[region].items() if seq < st.needed_from]
        pipe = self._client.pipeline(transaction=True)
        pipe.xadd(self.results_stream, {"region": str(region), "window": str(res.window),
                                        "result": json.dumps(res.to_dict())})
        pipe.hset(self.progress, str(region), str(st.next_window))
        if done_ids:
            pipe.xack(self.streams[region], self.group, *done_ids)
            pipe.xdel(self.streams[region], *done_ids)
        pipe.execute()
        for eid in done_ids:
            del self._ids[region][eid]

    def _finish(self, region: int) -> None:
        ids = list(self._ids[region]) + self._eos_ids[region]
        if ids:
            stream = self.streams[region]
            pipe = self._client.pipeline(transaction=True)
            pipe.xack(stream, self.group, *ids)
            pipe.xdel(stream, *ids)
            pipe.execute()
        self._ids[region].clear()
        self._eos_ids[region].clear()

    def close(self) -> None:
        self._client.close()


def read_results(url: str, field: str, *, prefix: str = PREFIX) -> list[dict[str, Any]]:
    """Every DMD result published for ``field``, de-duplicated by (region, window), in order."""
    redis = optional_import("redis", "insitu")
    client = redis.Redis.from_url(url)
    try:
        seen: dict[tuple[int, int], dict[str, Any]] = {}
        for _, fields in client.xrange(results_key(field, prefix=prefix)):
            res = json.loads(fields[b"result"])
            seen.setdefault((res["region"], res["window"]), res)
    finally:
        client.close()
    return [seen[k] for k in sorted(seen)]

"""The distributed analysis engine: Spark Structured Streaming over Redis Streams.

As in the paper's cloud side, a Spark streaming query reads the region streams with a
processing-time trigger (default 3 s) and runs windowed exact DMD per region in ``foreachBatch``.
Spark has no Redis Streams connector of its own, so carbide registers one through pyspark 4's
Python data source API (:class:`RedisStreamDataSource`, format ``carbide_redis_streams``):

- an offset is ``{stream key: last entry id}``; ``latestOffset`` asks each stream for its newest
  id, ``partitions`` gives one partition per stream with new entries, ``read`` pages through
  ``XRANGE (start, end]`` on an executor;
- ``commit(end)`` deletes the entries up to ``end`` (``XTRIM MINID``): the query's checkpoint has
  them and the windows' open snapshots are held by the engine, and deleting is what releases
  the broker's back-pressure cap.

The DMD state (:class:`~carbide.insitu.assembly.RegionWindows`) lives on the driver, which runs
``foreachBatch``; results go to the same results stream as the embedded engine's, so readers do
not care which engine ran. Needs the ``[spark]`` extra and a Java 17+ runtime (``JAVA_HOME`` or
``java`` on ``PATH``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._imports import optional_import
from ..exceptions import InvalidConfigError, MissingDependencyError
from .assembly import RegionWindows, WindowResult
from .codec import Snapshot
from .consumer import results_key
from .endpoints import stream_key

__all__ = ["SCHEMA", "SparkRun", "run_spark_engine"]

SCHEMA = ("stream string, id string, step long, seq long, rank long, localid long, "
          "region long, members long, field string, shape string, dtype string, ts double, "
          "eos boolean, data binary")
_FORMAT = "carbide_redis_streams"


def _next_id(entry_id: str) -> str:
    ms, seq = entry_id.split("-")
    return f"{ms}-{int(seq) + 1}"


def _data_source_classes() -> tuple[type, type]:
    """The pyspark DataSource classes (built on first use: pyspark is an optional extra)."""
    ds = optional_import("pyspark.sql.datasource", "spark")

    class RedisStreamPartition(ds.InputPartition):
        def __init__(self, stream: str, start: str, end: str):
            super().__init__((stream, start, end))
            self.stream, self.start, self.end = stream, start, end

    class RedisStreamReader(ds.DataSourceStreamReader):
        def __init__(self, options: dict[str, str]):
            self.url = options["url"]
            self.streams = [s for s in options["streams"].split(",") if s]
            self.page = int(options.get("page", "256"))

        def _client(self) -> Any:
            import redis

            return redis.Redis.from_url(self.url)

        def initialOffset(self) -> dict:
            return {s: "0-0" for s in self.streams}

        def latestOffset(self, start: dict | None = None, limit: Any = None) -> dict:
            client = self._client()
            try:
                out = {}
                for s in self.streams:
                    last = client.xrevrange(s, count=1)
                    newest = last[0][0].decode() if last else "0-0"
                    prev = (start or {}).get(s, "0-0")
                    out[s] = max(newest, prev, key=lambda x: tuple(map(int, x.split("-"))))
                return out
            finally:
                client.close()

        def partitions(self, start: dict, end: dict) -> Sequence[Any]:
            return [RedisStreamPartition(s, start.get(s, "0-0"), end[s])
                    for s in self.streams if end.get(s, "0-0") != start.get(s, "0-0")]

        def read(self, partition: Any) -> Iterator[tuple]:
            client = self._client()
            try:
                lo = _next_id(partition.start)
                while True:
                    page = client.xrange(partition.stream, min=lo, max=partition.end,
                                         count=self.page)
                    for eid, f in page:
                        eos = b"eos" in f

                        def num(k: bytes, f: dict = f) -> int | None:
                            return int(f[k]) if k in f else None

                        yield (partition.stream, eid.decode(), num(b"step"), num(b"seq"),
                               num(b"rank"), num(b"localid"), num(b"region"), num(b"members"),
                               f.get(b"field", b"").decode(), f.get(b"shape", b"").decode(),
                               f.get(b"dtype", b"").decode(),
                               float(f[b"ts"]) if b"ts" in f else None, eos, f.get(b"data"))
                    if len(page) < self.page:
                        break
                    lo = _next_id(page[-1][0].decode())
            finally:
                client.close()

        def commit(self, end: dict) -> None:
            client = self._client()
            try:
                for s, eid in end.items():
                    if eid != "0-0":
                        client.xtrim(s, minid=_next_id(eid), approximate=False)
            finally:
                client.close()

    class RedisStreamDataSource(ds.DataSource):
        @classmethod
        def name(cls) -> str:
            return _FORMAT

        def schema(self) -> str:
            return SCHEMA

        def streamReader(self, schema: Any) -> Any:
            for key in ("url", "streams"):
                if key not in self.options:
                    raise InvalidConfigError(f"the {_FORMAT} source needs the option {key!r}")
            return RedisStreamReader(dict(self.options))

    return RedisStreamDataSource, RedisStreamReader


@dataclass
class SparkRun:
    """What a Spark engine run produced: DMD results and per-micro-batch timings.

    ``batches`` rows: ``{"batch_id", "rows", "processing_s", "windows"}``, where
    ``processing_s`` is the time ``foreachBatch`` took (to compare with the trigger).
    """

    results: list[WindowResult] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)
    trigger_s: float = 3.0
    startup_s: float = 0.0


def _java_check() -> None:
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    raise MissingDependencyError(
        "the Spark engine needs a Java 17+ runtime: install one (e.g. apt install "
        "openjdk-17-jre-headless) and put java on PATH or set JAVA_HOME")


def run_spark_engine(url: str, field: str, regions: Sequence[int], *, window: int,
                     stride: int | None = None, rank: int = 8, time_per_step: float = 1.0,
                     trigger_s: float = 3.0, master: str = "local[2]",
                     timeout_s: float = 600.0, prefix: str = "carbide",
                     on_ready: Any = None, check: Any = None) -> SparkRun:
    """Run windowed DMD on the region streams with Spark Structured Streaming until every
    region's end-of-stream markers have been seen.

    Args:
        url: Redis endpoint of the streams.
        field, regions: which streams (``<prefix>:<field>:<region>``).
        window, stride, rank, time_per_step: as for :class:`~carbide.insitu.assembly.RegionWindows`.
        trigger_s: processing-time trigger in seconds (paper: 3 s).
        master: Spark master URL (default ``local[2]``; ``spark://host:7077`` for a cluster).
        timeout_s: give up (stop the query, raise ``TimeoutError``) after this long.
        on_ready: optional callable run once the query has started (e.g. to start producers).
        check: optional callable run while waiting; it raises to abandon the run (e.g. when
            the producer has failed, so no end-of-stream marker will ever come).

    Returns:
        A :class:`SparkRun`; results are also published to ``<prefix>:<field>:dmd``.
    """
    _java_check()
    pyspark_sql = optional_import("pyspark.sql", "spark")
    redis = optional_import("redis", "insitu")
    source, _ = _data_source_classes()
    states = {int(r): RegionWindows(int(r), window=window, stride=stride, rank=rank,
                                    time_per_step=time_per_step) for r in regions}
    keys = {stream_key(field, r, prefix=prefix): r for r in states}
    run = SparkRun(trigger_s=trigger_s)
    client = redis.Redis.from_url(url)
    out_key = results_key(field, prefix=prefix)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback only, like every server here
    t0 = time.perf_counter()
    spark = (pyspark_sql.SparkSession.builder.master(master).appName("carbide-elasticbroker")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.driver.host", "127.0.0.1")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.dataSource.register(source)
    checkpoint = tempfile.mkdtemp(prefix="carbide-spark-ckpt-")

    def process(batch_df: Any, batch_id: int) -> None:
        import numpy as np

        t = time.perf_counter()
        rows = batch_df.collect()
        made = 0
        for row in sorted(rows, key=lambda r: (r.stream, tuple(map(int, r.id.split("-"))))):
            st = states[keys[row.stream]]
            if row.eos:
                st.end_of_stream(localid=row.localid, members=row.members, sent=row.step)
                continue
            shape = tuple(int(d) for d in row.shape.split(",")) if row.shape else ()
            data = np.frombuffer(bytes(row.data), dtype=np.dtype(row.dtype)).reshape(shape)
            st.add(Snapshot(step=row.step, seq=row.seq, rank=row.rank, localid=row.localid,
                            region=row.region, members=row.members, field=row.field,
                            data=data, ts=row.ts))
        for st in states.values():
            for res in st.ready():
                client.xadd(out_key, {"region": str(res.region), "window": str(res.window),
                                      "result": json.dumps(res.to_dict())})
                run.results.append(res)
                made += 1
        run.batches.append({"batch_id": int(batch_id), "rows": len(rows),
                            "processing_s": time.perf_counter() - t, "windows": made})

    query = None
    try:
        df = (spark.readStream.format(_FORMAT).option("url", url)
              .option("streams", ",".join(keys)).load())
        query = (df.writeStream.foreachBatch(process)
                 .trigger(processingTime=f"{trigger_s} seconds")
                 .option("checkpointLocation", checkpoint).start())
        run.startup_s = time.perf_counter() - t0
        if on_ready is not None:
            on_ready()
        deadline = time.monotonic() + timeout_s
        while not all(st.finished for st in states.values()):
            if query.exception() is not None:
                raise RuntimeError(f"the Spark streaming query failed: {query.exception()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Spark engine: regions not finished after {timeout_s} s")
            if check is not None:
                check()
            time.sleep(0.2)
    finally:
        if query is not None:
            query.stop()
        spark.stop()
        client.close()
        shutil.rmtree(checkpoint, ignore_errors=True)
    return run

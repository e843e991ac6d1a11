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
``foreachBatch``, and is checkpointed beside the stream offsets in the query's checkpoint
location at the end of every micro-batch, so a restarted query loses no window
(:class:`SparkDMDEngine`); results go to the same results stream as the embedded engine's, so
readers do not care which engine ran. Needs the ``[spark]`` extra and a Java 17+ runtime
(``JAVA_HOME`` or ``java`` on ``PATH``).
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
from pathlib import Path
from typing import Any

from .._imports import optional_import
from ..exceptions import InvalidConfigError, MissingDependencyError
from .assembly import RegionWindows, WindowResult
from .codec import Snapshot
from .keys import PREFIX, results_key, stream_key

__all__ = ["SCHEMA", "SparkDMDEngine", "SparkRun", "check_spark", "run_spark_engine"]

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


def check_spark() -> None:
    """Raise the install message now if the Spark engine cannot run (no pyspark, no Java)."""
    optional_import("pyspark.sql", "spark")
    _java_check()


# ------------------------------------------------------------------ window-state checkpoints

_STATE_DIR = "carbide-windows"


def _save_states(checkpoint: Path, batch_id: int, states: dict[int, RegionWindows]) -> None:
    """Write every region's open windows, tagged with the micro-batch that produced them,
    atomically into the query's checkpoint location (``<checkpoint>/carbide-windows``)."""
    import numpy as np

    from .._io import atomic_path

    arrays: dict[str, Any] = {}
    meta: dict[str, Any] = {"batch_id": int(batch_id), "regions": {}}
    for region, st in states.items():
        state = st.state_dict()
        vectors = state.pop("vectors")
        parts = state.pop("parts")
        state["vectors"] = []
        for seq, vec in vectors.items():
            name = f"r{region}_v{seq}"
            arrays[name] = vec
            state["vectors"].append([seq, name])
        state["parts"] = []
        for i, part in enumerate(parts):
            name = f"r{region}_p{i}"
            arrays[name] = part.pop("data")
            state["parts"].append({**part, "data": name})
        meta["regions"][str(region)] = state
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    folder = checkpoint / _STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / f"{batch_id:012d}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    for old in _state_files(checkpoint)[:-2]:  # keep the newest two
        old.unlink()


def _state_files(checkpoint: Path) -> list[Path]:
    folder = checkpoint / _STATE_DIR
    return sorted(f for f in folder.glob("*.npz") if not f.name.startswith("."))


def _load_states(checkpoint: Path, states: dict[int, RegionWindows]) -> int:
    """Restore the newest saved window state; returns its micro-batch id (-1: none)."""
    import numpy as np

    files = _state_files(checkpoint)
    if not files:
        return -1
    with np.load(files[-1], allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        saved = set(meta["regions"])
        if saved != {str(r) for r in states}:
            raise InvalidConfigError(
                f"checkpoint {checkpoint} holds regions {sorted(saved)}, this query reads "
                f"{sorted(states)}; use a fresh checkpoint location")
        for key, state in meta["regions"].items():
            state["vectors"] = {seq: z[name] for seq, name in state["vectors"]}
            state["parts"] = [{**p, "data": z[p["data"]]} for p in state["parts"]]
            states[int(key)].load_state_dict(state)
    return int(meta["batch_id"])


class SparkDMDEngine:
    """Windowed DMD over the region streams as a Spark Structured Streaming query.

    The query's checkpoint location holds the stream offsets (Spark's offset and commit logs)
    and, beside them, the windows still being assembled (``carbide-windows/<batch>.npz``,
    written at the end of every micro-batch). A query stopped mid-stream and started again on
    the same checkpoint, by this object or a new one, resumes from the last committed offsets
    with the open windows restored, so no window is lost; a micro-batch that Spark replays
    after a restart and whose state was already saved is skipped, and a window published
    twice is removed by :func:`~carbide.insitu.consumer.read_results`'s de-duplication.

    Args:
        url: Redis endpoint of the streams.
        field, regions: which streams (``<prefix>:<field>:<region>``).
        window, stride, rank, time_per_step: as for :class:`~carbide.insitu.assembly.RegionWindows`.
        trigger_s: processing-time trigger in seconds (paper: 3 s).
        master: Spark master URL (default ``local[2]``; ``spark://host:7077`` for a cluster).
        prefix: key prefix, as the broker's.
        checkpoint: the query's checkpoint location (default: a temporary folder removed by
            :meth:`close`); give one to restart a query without loss.
    """

    def __init__(self, url: str, field: str, regions: Sequence[int], *, window: int,
                 stride: int | None = None, rank: int = 8, time_per_step: float = 1.0,
                 trigger_s: float = 3.0, master: str = "local[2]", prefix: str = PREFIX,
                 checkpoint: str | os.PathLike[str] | None = None):
        check_spark()
        redis = optional_import("redis", "insitu")
        self._window_kw = dict(window=window, stride=stride, rank=rank,
                               time_per_step=time_per_step)
        self.states = {int(r): RegionWindows(int(r), **self._window_kw) for r in regions}
        self.url, self.field, self.master, self.prefix = url, field, master, prefix
        self.keys = {stream_key(field, r, prefix=prefix): r for r in self.states}
        self.out_key = results_key(field, prefix=prefix)
        self.run = SparkRun(trigger_s=trigger_s)
        self._own_checkpoint = checkpoint is None
        self.checkpoint = Path(checkpoint if checkpoint is not None
                               else tempfile.mkdtemp(prefix="carbide-spark-ckpt-"))
        self.last_batch = -1
        self._restore()
        self._client = redis.Redis.from_url(url)
        self._spark: Any = None
        self.query: Any = None

    def _restore(self) -> None:
        """The open windows as of the last saved micro-batch (fresh ones without any)."""
        self.states = {r: RegionWindows(r, **self._window_kw) for r in self.states}
        self.last_batch = _load_states(self.checkpoint, self.states)

    @property
    def finished(self) -> bool:
        """Every region's end-of-stream markers seen and every full window analysed."""
        return all(st.finished for st in self.states.values())

    def _process(self, batch_df: Any, batch_id: int) -> None:
        import numpy as np

        if batch_id <= self.last_batch:  # replayed after a restart; its state is saved
            return
        t = time.perf_counter()
        rows = batch_df.collect()
        made = 0
        for row in sorted(rows, key=lambda r: (r.stream, tuple(map(int, r.id.split("-"))))):
            st = self.states[self.keys[row.stream]]
            if row.eos:
                st.end_of_stream(localid=row.localid, members=row.members, sent=row.step)
                continue
            shape = tuple(int(d) for d in row.shape.split(",")) if row.shape else ()
            data = np.frombuffer(bytes(row.data), dtype=np.dtype(row.dtype)).reshape(shape)
            st.add(Snapshot(step=row.step, seq=row.seq, rank=row.rank, localid=row.localid,
                            region=row.region, members=row.members, field=row.field,
                            data=data, ts=row.ts))
        for st in self.states.values():
            for res in st.ready():
                self._client.xadd(self.out_key, {"region": str(res.region),
                                                 "window": str(res.window),
                                                 "result": json.dumps(res.to_dict())})
                self.run.results.append(res)
                made += 1
        _save_states(self.checkpoint, batch_id, self.states)
        self.last_batch = batch_id
        self.run.batches.append({"batch_id": int(batch_id), "rows": len(rows),
                                 "processing_s": time.perf_counter() - t, "windows": made})

    def start(self) -> SparkDMDEngine:
        """Start (or restart) the streaming query on the checkpoint location."""
        pyspark_sql = optional_import("pyspark.sql", "spark")
        source, _ = _data_source_classes()
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback, like every server
        t0 = time.perf_counter()
        if self.query is not None:
            raise InvalidConfigError("the query is running; stop() it before starting again")
        self._restore()  # what the last run saved, not what an interrupted batch left
        if self._spark is None:
            self._spark = (pyspark_sql.SparkSession.builder.master(self.master)
                           .appName("carbide-elasticbroker")
                           .config("spark.ui.enabled", "false")
                           .config("spark.ui.showConsoleProgress", "false")
                           .config("spark.sql.shuffle.partitions", "2")
                           .config("spark.driver.bindAddress", "127.0.0.1")
                           .config("spark.driver.host", "127.0.0.1")
                           .getOrCreate())
            self._spark.sparkContext.setLogLevel("ERROR")
            self._spark.dataSource.register(source)
        df = (self._spark.readStream.format(_FORMAT).option("url", self.url)
              .option("streams", ",".join(self.keys)).load())
        self.query = (df.writeStream.foreachBatch(self._process)
                      .trigger(processingTime=f"{self.run.trigger_s} seconds")
                      .option("checkpointLocation", str(self.checkpoint)).start())
        self.run.startup_s = time.perf_counter() - t0
        return self

    def wait(self, *, timeout_s: float = 600.0, check: Any = None,
             until: Any = None) -> SparkRun:
        """Block until every region is finished (or ``until()`` is true).

        Args:
            timeout_s: raise ``TimeoutError`` after this long.
            check: optional callable run while waiting; it raises to abandon the run.
            until: optional predicate that ends the wait early (e.g. "two batches done").
        """
        if self.query is None:
            raise InvalidConfigError("start the engine before waiting on it")
        deadline = time.monotonic() + timeout_s
        while not self.finished and not (until is not None and until()):
            if self.query.exception() is not None:
                raise RuntimeError(f"the Spark streaming query failed: {self.query.exception()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Spark engine: regions not finished after {timeout_s} s")
            if check is not None:
                check()
            time.sleep(0.2)
        return self.run

    def stop(self) -> None:
        """Stop the query (its offsets and open windows stay in the checkpoint location)."""
        if self.query is not None:
            self.query.stop()
            self.query = None

    def close(self, *, stop_session: bool = True) -> None:
        """Stop the query, the Spark session (unless ``stop_session=False``, e.g. to restart
        on it) and the Redis client; remove a temporary checkpoint."""
        try:
            self.stop()
        finally:
            if stop_session and self._spark is not None:
                self._spark.stop()
            self._spark = None
            self._client.close()
            if self._own_checkpoint:
                shutil.rmtree(self.checkpoint, ignore_errors=True)


def run_spark_engine(url: str, field: str, regions: Sequence[int], *, window: int,
                     stride: int | None = None, rank: int = 8, time_per_step: float = 1.0,
                     trigger_s: float = 3.0, master: str = "local[2]",
                     timeout_s: float = 600.0, prefix: str = PREFIX,
                     on_ready: Any = None, check: Any = None,
                     checkpoint: str | os.PathLike[str] | None = None) -> SparkRun:
    """Run windowed DMD on the region streams with Spark Structured Streaming until every
    region's end-of-stream markers have been seen (a :class:`SparkDMDEngine` run to the end).

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
        checkpoint: the query's checkpoint location (default: temporary); a run on a
            checkpoint of an earlier, stopped run resumes it without losing a window.

    Returns:
        A :class:`SparkRun`; results are also published to ``<prefix>:<field>:dmd``.
    """
    engine = SparkDMDEngine(url, field, regions, window=window, stride=stride, rank=rank,
                            time_per_step=time_per_step, trigger_s=trigger_s, master=master,
                            prefix=prefix, checkpoint=checkpoint)
    try:
        engine.start()
        if on_ready is not None:
            on_ready()
        return engine.wait(timeout_s=timeout_s, check=check)
    finally:
        engine.close()

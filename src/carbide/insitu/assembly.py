"""Engine-independent analysis state: region snapshots -> DMD windows.

Both analysis engines (the embedded consumer-group reader and Spark Structured Streaming) feed
decoded :class:`~carbide.insitu.codec.Snapshot` objects into one :class:`RegionWindows` per
region stream. It

- de-duplicates by ``(rank, step)`` (delivery is at-least-once),
- checks that each rank's snapshots keep one shape and dtype,
- assembles a step's region vector once every member rank has sent it (rank arrays flattened
  and concatenated in ``localid`` order),
- emits window *j* — snapshots ``seq`` in ``[j*stride, j*stride + window)`` — as soon as all of
  them are complete, runs windowed exact DMD on it (:func:`carbide.insitu.dmd.dmd_window`), and
- reports which ``seq`` are no longer needed by any later window (so an engine can acknowledge
  and delete their stream entries) and when the region is finished (every member's
  end-of-stream marker seen and every full window analysed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError
from .codec import Snapshot

__all__ = ["RegionWindows", "WindowResult"]


@dataclass
class WindowResult:
    """One analysed window of one region.

    Attributes:
        region, window: identity (``window`` counts from 0).
        steps: the simulation steps in the window, oldest first.
        dmd: the DMD result as a JSON-friendly dict (see :class:`carbide.insitu.dmd.DMDResult`).
        dominant_freq: dominant non-zero frequency (cycles per unit of ``time_per_step``).
        analysis_s: time spent in DMD.
        latencies_s: for each snapshot first covered by this window, the time from its ``put`` on
            the producer to this result (end-to-end latency).
        produced_ts: producer time of the newest snapshot in the window.
        finished_ts: wall time the result was made.
    """

    region: int
    window: int
    steps: list[int]
    dmd: dict[str, Any]
    dominant_freq: float
    analysis_s: float
    latencies_s: list[float] = field(default_factory=list)
    produced_ts: float = 0.0
    finished_ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"region": self.region, "window": self.window, "steps": self.steps,
                "dominant_freq": self.dominant_freq, "analysis_s": self.analysis_s,
                "latencies_s": self.latencies_s, "produced_ts": self.produced_ts,
                "finished_ts": self.finished_ts, "dmd": self.dmd}


class RegionWindows:
    """Windowed DMD state of one region stream (see the module docstring).

    Args:
        region: region id.
        window: snapshots per DMD window (>= 2).
        stride: snapshots between window starts (default: ``window``, no overlap).
        rank: DMD truncation rank, ``1 <= rank < window`` (default 8).
        time_per_step: physical time of one simulation step; frequencies come out in cycles per
            this unit (default 1.0: per step).
        next_window: first window still to analyse (set when resuming after a crash).
    """

    def __init__(self, region: int, *, window: int, stride: int | None = None, rank: int = 8,
                 time_per_step: float = 1.0, next_window: int = 0):
        self.region = int(region)
        self.window = check_int("window", window, 2)
        self.stride = check_int("stride", stride if stride is not None else window, 1)
        self.rank = check_int("rank", rank, 1)
        if self.rank >= self.window:
            raise InvalidConfigError(
                f"DMD rank {rank} must be below the window length {window}; lower --rank or "
                "raise --window")
        self.time_per_step = check_real("time_per_step", time_per_step, 0.0, float("inf"),
                                         lo_open=True, hi_open=True)
        self.next_window = check_int("next_window", next_window, 0)
        self.members: int | None = None
        self._parts: dict[int, dict[int, Snapshot]] = {}  # seq -> localid -> snapshot
        self._steps: dict[int, int] = {}  # seq -> step
        self._vectors: dict[int, np.ndarray] = {}  # complete seqs -> region vector
        self._ts: dict[int, float] = {}  # complete seqs -> newest producer ts
        self._seen: set[tuple[int, int]] = set()
        self._layout: dict[int, tuple[tuple[int, ...], str]] = {}
        self._eos: dict[int, int] = {}  # localid -> snapshots sent
        self.duplicates = 0
        self.covered_until = self.next_window * self.stride  # seqs below are in a result

    # -------------------------------------------------------------- input

    def add(self, snap: Snapshot) -> bool:
        """Take one snapshot; ``False`` if it is a duplicate (or already analysed)."""
        if snap.region != self.region:
            raise InvalidConfigError(
                f"snapshot of region {snap.region} fed to the analysis of region {self.region}")
        self._check_members(snap.members, f"rank {snap.rank}")
        key = (snap.rank, snap.step)
        if key in self._seen or snap.seq < self.next_window * self.stride:
            self.duplicates += 1
            return False
        layout = (tuple(snap.data.shape), snap.data.dtype.name)
        known = self._layout.setdefault(snap.localid, layout)
        if known != layout:
            raise InvalidConfigError(
                f"region {self.region}, rank {snap.rank}, step {snap.step}: snapshot of shape "
                f"{layout[0]} and dtype {layout[1]} differs from the rank's earlier "
                f"{known[0]} {known[1]}; a stream must keep one shape and dtype")
        step = self._steps.setdefault(snap.seq, snap.step)
        if step != snap.step:
            raise InvalidConfigError(
                f"region {self.region}: put #{snap.seq} is step {snap.step} on rank {snap.rank} "
                f"but step {step} on another rank; every rank must put at the same steps")
        self._seen.add(key)
        parts = self._parts.setdefault(snap.seq, {})
        parts[snap.localid] = snap
        if len(parts) == self.members:
            ordered = [parts[i] for i in range(self.members)]
            self._vectors[snap.seq] = np.concatenate([p.data.ravel() for p in ordered])
            self._ts[snap.seq] = max(p.ts for p in ordered)
            del self._parts[snap.seq]
        return True

    def end_of_stream(self, *, localid: int, members: int, sent: int) -> None:
        """Record that rank ``localid`` of the region put ``sent`` snapshots in all."""
        self._check_members(members, f"end-of-stream of localid {localid}")
        self._eos[int(localid)] = int(sent)

    def _check_members(self, members: int, what: str) -> None:
        if self.members is None:
            self.members = int(members)
        elif members != self.members:
            raise InvalidConfigError(
                f"region {self.region}: {what} says the region has {members} ranks, earlier "
                f"entries said {self.members}")

    # -------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: settings, progress and the windows still being
        assembled (partial steps and complete region vectors not yet analysed).

        Arrays stay numpy arrays; everything else is JSON-friendly (see
        :func:`carbide.insitu.spark` for how the Spark engine checkpoints it).
        """
        return {
            "region": self.region, "window": self.window, "stride": self.stride,
            "rank": self.rank, "time_per_step": self.time_per_step,
            "next_window": self.next_window, "members": self.members,
            "covered_until": self.covered_until, "duplicates": self.duplicates,
            "steps": {int(k): int(v) for k, v in self._steps.items()},
            "ts": {int(k): float(v) for k, v in self._ts.items()},
            "vectors": {int(k): v for k, v in self._vectors.items()},
            "parts": [{"step": p.step, "seq": p.seq, "rank": p.rank, "localid": p.localid,
                       "region": p.region, "members": p.members, "field": p.field,
                       "ts": p.ts, "data": p.data}
                      for by_id in self._parts.values() for p in by_id.values()],
            "seen": sorted([int(r), int(st)] for r, st in self._seen),
            "layout": {int(k): [list(shape), dtype] for k, (shape, dtype) in
                       self._layout.items()},
            "eos": {int(k): int(v) for k, v in self._eos.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> RegionWindows:
        """Resume from :meth:`state_dict` (the settings must match this object's)."""
        mine = (self.region, self.window, self.stride, self.rank)
        theirs = (state["region"], state["window"], state["stride"], state["rank"])
        if tuple(int(x) for x in theirs) != mine:
            raise InvalidConfigError(
                f"saved window state (region, window, stride, rank) = {theirs} does not match "
                f"this analysis {mine}; resume with the same settings or a fresh checkpoint")
        self.next_window = int(state["next_window"])
        self.members = None if state["members"] is None else int(state["members"])
        self.covered_until = int(state["covered_until"])
        self.duplicates = int(state["duplicates"])
        self._steps = {int(k): int(v) for k, v in state["steps"].items()}
        self._ts = {int(k): float(v) for k, v in state["ts"].items()}
        self._vectors = {int(k): np.asarray(v) for k, v in state["vectors"].items()}
        self._parts = {}
        for p in state["parts"]:
            snap = Snapshot(step=int(p["step"]), seq=int(p["seq"]), rank=int(p["rank"]),
                            localid=int(p["localid"]), region=int(p["region"]),
                            members=int(p["members"]), field=str(p["field"]),
                            data=np.asarray(p["data"]), ts=float(p["ts"]))
            self._parts.setdefault(snap.seq, {})[snap.localid] = snap
        self._seen = {(int(r), int(st)) for r, st in state["seen"]}
        self._layout = {int(k): (tuple(int(d) for d in shape), str(dtype))
                        for k, (shape, dtype) in state["layout"].items()}
        self._eos = {int(k): int(v) for k, v in state["eos"].items()}
        return self

    # -------------------------------------------------------------- output

    def ready(self) -> list[WindowResult]:
        """Analyse every window whose snapshots are all complete, in order."""
        from .dmd import dmd_window

        out = []
        while True:
            lo = self.next_window * self.stride
            seqs = range(lo, lo + self.window)
            if not all(s in self._vectors for s in seqs):
                break
            data = np.stack([self._vectors[s] for s in seqs], axis=1).astype(np.float64)
            steps = [self._steps[s] for s in seqs]
            gaps = np.diff(steps)
            if np.any(gaps <= 0) or np.any(gaps != gaps[0]):
                raise InvalidConfigError(
                    f"region {self.region}, window {self.next_window}: steps {steps} are not "
                    "evenly spaced; DMD needs snapshots at a fixed interval")
            dt = float(gaps[0]) * self.time_per_step
            t = time.perf_counter()
            result = dmd_window(data, dt=dt, rank=self.rank)
            analysis = time.perf_counter() - t
            now = time.time()
            fresh = range(max(lo, self.covered_until), lo + self.window)
            res = WindowResult(
                region=self.region, window=self.next_window, steps=steps,
                dmd=result.to_dict(), dominant_freq=float(result.dominant_frequency()),
                analysis_s=analysis, latencies_s=[now - self._ts[s] for s in fresh],
                produced_ts=max(self._ts[s] for s in seqs), finished_ts=now)
            self.covered_until = lo + self.window
            self.next_window += 1
            for s in [s for s in self._vectors if s < self.next_window * self.stride]:
                del self._vectors[s], self._ts[s]
            out.append(res)
        return out

    @property
    def needed_from(self) -> int:
        """Smallest ``seq`` a later window still needs (entries below it can be acknowledged)."""
        return self.next_window * self.stride

    @property
    def finished(self) -> bool:
        """Every member's end-of-stream seen and no further full window can come."""
        if self.members is None or len(self._eos) < self.members:
            return False
        sent = min(self._eos.values())
        return self.next_window * self.stride + self.window > sent

    @property
    def total_sent(self) -> int | None:
        """Snapshots per rank, once every member's end-of-stream is known."""
        if self.members is None or len(self._eos) < self.members:
            return None
        return min(self._eos.values())

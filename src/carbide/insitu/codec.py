"""Snapshot wire format: one Redis Stream entry per (rank, step).

The paper's broker sends ``XADD <field><region> * step .. localid .. valuelist ..`` with the
values as text. carbide sends the values as raw little-endian bytes (float32 by default) with the
metadata a consumer needs to rebuild and check the array, never as text:

=========  ===========================================================
``step``   simulation step (int)
``seq``    the rank's put counter, 0, 1, 2, ... (the same at a given step on every rank)
``rank``   the producer's MPI rank (int)
``localid`` the rank's index inside its region (int)
``region`` region id (int)
``members`` number of ranks in the region (a consumer needs them all for one step)
``field``  field name (str)
``shape``  comma-separated array shape, e.g. ``100,200``
``dtype``  numpy dtype string, e.g. ``<f4``
``ts``     producer wall time at ``put`` (float seconds since the epoch)
``data``   the array's bytes, C order
=========  ===========================================================

An end-of-stream entry carries ``eos=1`` plus ``rank``/``localid``/``region``/``step`` (the
number of snapshots the rank sent), so a consumer knows when a region is complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InvalidConfigError

__all__ = ["Snapshot", "decode_entry", "encode_eos", "encode_snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """One rank's array at one step, as it travels.

    Attributes:
        step, rank: identity (``(rank, step)`` is the de-duplication key).
        seq: the rank's put counter (windows are counted in it).
        localid, region, members: the rank's place in its region stream.
        field: field name.
        data: the array (any shape), decoded read-only from the wire.
        ts: producer wall time at ``put``.
    """

    step: int
    seq: int
    rank: int
    localid: int
    region: int
    members: int
    field: str
    data: np.ndarray
    ts: float

    @property
    def key(self) -> tuple[int, int]:
        return (self.rank, self.step)


def encode_snapshot(snap: Snapshot) -> dict[str, Any]:
    """The XADD field map of ``snap`` (bytes for the array, text for the metadata)."""
    arr = np.ascontiguousarray(snap.data)
    return {
        "step": str(int(snap.step)),
        "seq": str(int(snap.seq)),
        "rank": str(int(snap.rank)),
        "localid": str(int(snap.localid)),
        "region": str(int(snap.region)),
        "members": str(int(snap.members)),
        "field": snap.field,
        "shape": ",".join(str(int(d)) for d in arr.shape),
        "dtype": arr.dtype.str,
        "ts": repr(float(snap.ts)),
        "data": arr.tobytes(),
    }


def encode_eos(*, rank: int, localid: int, region: int, members: int,
               sent: int) -> dict[str, Any]:
    """The end-of-stream entry of one rank: ``sent`` snapshots were put."""
    return {"eos": "1", "rank": str(rank), "localid": str(localid), "region": str(region),
            "members": str(members), "step": str(sent)}


def _text(fields: dict[Any, Any], name: str) -> str:
    value = fields.get(name, fields.get(name.encode()))
    if value is None:
        raise InvalidConfigError(
            f"stream entry has no {name!r} field (got {sorted(map(str, fields))}); "
            "it was not written by carbide's broker")
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_entry(fields: dict[Any, Any]) -> Snapshot | dict[str, int]:
    """Decode one stream entry: a :class:`Snapshot`, or for an end-of-stream entry a dict
    ``{"rank", "localid", "region", "members", "sent"}``.

    Raises:
        InvalidConfigError: a field is missing, or the byte count does not match shape/dtype.
    """
    if fields.get("eos", fields.get(b"eos")) is not None:
        return {"rank": int(_text(fields, "rank")), "localid": int(_text(fields, "localid")),
                "region": int(_text(fields, "region")),
                "members": int(_text(fields, "members")), "sent": int(_text(fields, "step"))}
    shape_text = _text(fields, "shape")
    shape = tuple(int(d) for d in shape_text.split(",")) if shape_text else ()
    dtype = np.dtype(_text(fields, "dtype"))
    raw = fields.get("data", fields.get(b"data"))
    if raw is None:
        raise InvalidConfigError("stream entry has no 'data' field")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise InvalidConfigError(
            f"stream entry holds {len(raw)} bytes but shape {shape} of {dtype} needs {expected}")
    data = np.frombuffer(raw, dtype=dtype).reshape(shape)
    return Snapshot(step=int(_text(fields, "step")), seq=int(_text(fields, "seq")),
                    rank=int(_text(fields, "rank")), localid=int(_text(fields, "localid")),
                    region=int(_text(fields, "region")), members=int(_text(fields, "members")),
                    field=_text(fields, "field"), data=data, ts=float(_text(fields, "ts")))

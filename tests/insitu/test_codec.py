import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError
from carbide.insitu.codec import Snapshot, decode_entry, encode_eos, encode_snapshot


def _snap(data, **kw):
    base = dict(step=40, seq=4, rank=3, localid=1, region=2, members=2, field="vorticity",
                ts=1234.5)
    base.update(kw)
    return Snapshot(data=data, **base)


def _as_wire(fields):
    """What redis-py hands back: bytes keys and bytes values."""
    return {k.encode(): v if isinstance(v, bytes) else str(v).encode() for k, v in fields.items()}


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16"])
def test_round_trip_keeps_values_shape_dtype_and_metadata(dtype):
    data = (np.arange(12).reshape(3, 4) * 1.5).astype(dtype)
    back = decode_entry(_as_wire(encode_snapshot(_snap(data))))
    assert back.data.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.data, data)
    assert (back.step, back.seq, back.rank, back.localid, back.region, back.members) == (
        40, 4, 3, 1, 2, 2)
    assert back.field == "vorticity" and back.ts == 1234.5 and back.key == (3, 40)


def test_values_travel_as_bytes_not_text():
    fields = encode_snapshot(_snap(np.ones((2, 2), np.float32)))
    assert isinstance(fields["data"], bytes) and len(fields["data"]) == 16


def test_eos_entry_decodes_to_counts():
    eos = decode_entry(_as_wire(encode_eos(rank=1, localid=0, region=1, members=2, sent=30)))
    assert eos == {"rank": 1, "localid": 0, "region": 1, "members": 2, "sent": 30}


def test_truncated_bytes_and_missing_fields_are_rejected():
    wire = _as_wire(encode_snapshot(_snap(np.ones((2, 2), np.float32))))
    wire[b"data"] = wire[b"data"][:-4]
    with pytest.raises(InvalidConfigError, match="12 bytes but shape"):
        decode_entry(wire)
    del wire[b"shape"]
    with pytest.raises(InvalidConfigError, match="'shape'"):
        decode_entry(wire)

import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError
from carbide.insitu.assembly import RegionWindows
from carbide.insitu.codec import Snapshot


def snap(seq, rank, data, *, members=2, step=None, dtype=np.float32):
    return Snapshot(step=10 * (seq + 1) if step is None else step, seq=seq, rank=rank,
                    localid=rank, region=0, members=members, field="f",
                    data=np.asarray(data, dtype=dtype), ts=100.0 + seq)


def wave(seq, n=6):
    return np.sin(np.arange(n) - 0.3 * seq)


def test_region_vector_concatenates_ranks_in_localid_order_and_waits_for_all():
    st = RegionWindows(0, window=3, rank=2)
    for seq in range(3):
        st.add(snap(seq, 1, wave(seq)[3:]))
    assert st.ready() == []  # rank 0 missing: no complete step yet
    for seq in range(3):
        st.add(snap(seq, 0, wave(seq)[:3]))
    (res,) = st.ready()
    assert res.steps == [10, 20, 30] and res.window == 0 and st.needed_from == 3
    assert len(res.latencies_s) == 3


def test_windows_overlap_by_the_hop_and_latency_counts_each_snapshot_once():
    st = RegionWindows(0, window=4, stride=2, rank=2)
    for seq in range(8):
        st.add(snap(seq, 0, wave(seq), members=1))
    res = st.ready()
    assert [r.steps[0] for r in res] == [10, 30, 50]
    assert [len(r.latencies_s) for r in res] == [4, 2, 2]


def test_dtype_or_shape_change_within_a_rank_is_an_error():
    st = RegionWindows(0, window=3, rank=2)
    st.add(snap(0, 0, wave(0)[:3]))
    with pytest.raises(InvalidConfigError, match="rank 0, step 20.*float64"):
        st.add(snap(1, 0, wave(1)[:3], dtype=np.float64))
    with pytest.raises(InvalidConfigError, match="shape"):
        st.add(snap(1, 0, wave(1)[:4]))


def test_uneven_steps_and_member_disagreement_are_errors():
    st = RegionWindows(0, window=3, rank=2)
    for seq, step in enumerate([10, 20, 35]):
        st.add(snap(seq, 0, wave(seq), members=1, step=step))
    with pytest.raises(InvalidConfigError, match="not evenly spaced"):
        st.ready()
    with pytest.raises(InvalidConfigError, match="2 ranks"):
        st.add(snap(3, 1, wave(3), members=2))


def test_finished_only_after_every_end_of_stream_and_full_window():
    st = RegionWindows(0, window=2, rank=1)
    for seq in range(5):
        st.add(snap(seq, 0, wave(seq), members=1))
    st.ready()
    assert not st.finished
    st.end_of_stream(localid=0, members=1, sent=5)
    assert st.finished and st.total_sent == 5  # the 5th snapshot cannot fill a window


def test_rank_must_be_below_the_window():
    with pytest.raises(InvalidConfigError, match="rank 4 must be below the window length 4"):
        RegionWindows(0, window=4, rank=4)

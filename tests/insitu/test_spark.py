"""The Spark engine: windows still being assembled survive a query restart."""

import time

import numpy as np
import pytest

from carbide.insitu.assembly import RegionWindows
from carbide.insitu.codec import Snapshot, encode_eos, encode_snapshot
from carbide.insitu.consumer import read_results
from carbide.insitu.keys import results_key, stream_key

FREQ = 0.05
N = 40  # snapshots per rank; window 8, hop 4 -> 9 windows per region
WINDOW = dict(window=8, stride=4, rank=3)


def _snap(region, seq, localid=0, members=1):
    x = np.linspace(0, 2 * np.pi, 12, dtype=np.float32)
    data = (np.sin(x - 2 * np.pi * FREQ * seq + region)).astype(np.float32)
    return Snapshot(step=seq, seq=seq, rank=region * members + localid, localid=localid,
                    region=region, members=members, field="w", data=data, ts=time.time())


def _reference(region):
    st = RegionWindows(region, **WINDOW)
    for k in range(N):
        st.add(_snap(region, k))
    st.end_of_stream(localid=0, members=1, sent=N)
    return {r.window: r for r in st.ready()}


def test_window_state_round_trips_through_the_checkpoint_files(tmp_path):
    """Half a stream in, the state saved and restored into fresh objects, the rest in: the
    same windows as one uninterrupted pass (the checkpoint the Spark engine writes)."""
    from carbide.insitu.spark import _load_states, _save_states

    first = {r: RegionWindows(r, **WINDOW) for r in (0, 1)}
    before = {r: [] for r in (0, 1)}
    for r, st in first.items():
        for k in range(N // 2 + 2):  # windows 0-3 done, 4 open
            st.add(_snap(r, k))
        before[r] = st.ready()
    _save_states(tmp_path, 7, first)
    _save_states(tmp_path, 8, first)
    _save_states(tmp_path, 9, first)
    assert len(list((tmp_path / "carbide-windows").glob("*.npz"))) == 2  # the newest two

    second = {r: RegionWindows(r, **WINDOW) for r in (0, 1)}
    assert _load_states(tmp_path, second) == 9
    for r, st in second.items():
        for k in range(N // 2 + 2, N):
            st.add(_snap(r, k))
        st.end_of_stream(localid=0, members=1, sent=N)
        after = st.ready()
        assert st.finished
        got = {x.window: x for x in before[r] + after}
        ref = _reference(r)
        assert sorted(got) == list(range(9))
        for j, res in got.items():
            assert res.steps == ref[j].steps
            assert res.dominant_freq == pytest.approx(ref[j].dominant_freq, rel=1e-9)


def test_a_checkpoint_of_other_regions_is_refused(tmp_path):
    from carbide.exceptions import InvalidConfigError
    from carbide.insitu.spark import _load_states, _save_states

    _save_states(tmp_path, 0, {0: RegionWindows(0, **WINDOW)})
    with pytest.raises(InvalidConfigError, match="holds regions"):
        _load_states(tmp_path, {0: RegionWindows(0, **WINDOW), 1: RegionWindows(1, **WINDOW)})


def _put(client, seqs):
    for k in seqs:
        for region in (0, 1):
            client.xadd(stream_key("w", region), encode_snapshot(_snap(region, k)))


@pytest.mark.slow
def test_spark_query_stopped_mid_stream_and_restarted_loses_no_window(tmp_path, redis_server,
                                                                       client):
    pytest.importorskip("pyspark")
    from carbide.insitu.spark import SparkDMDEngine

    ckpt = tmp_path / "checkpoint"
    kw = dict(trigger_s=0.5, checkpoint=ckpt, **WINDOW)
    first = SparkDMDEngine(redis_server.url, "w", [0, 1], **kw).start()
    try:
        _put(client, range(N // 2 + 2))  # windows 0-3 complete, window 4 half assembled
        first.wait(timeout_s=240, until=lambda: client.xlen(results_key("w")) >= 8
                   and first.last_batch >= 0)
    finally:
        first.close(stop_session=False)
    # what the source committed is gone from the streams (as its commit() trims it): the
    # open window's snapshots now exist nowhere but in the checkpointed state
    for region in (0, 1):
        client.xtrim(stream_key("w", region), maxlen=0)
    second = SparkDMDEngine(redis_server.url, "w", [0, 1], **kw)
    assert second.last_batch >= 0 and second.states[0].next_window == 4
    try:
        second.start()
        _put(client, range(N // 2 + 2, N))
        for region in (0, 1):
            client.xadd(stream_key("w", region),
                        encode_eos(rank=region, localid=0, region=region, members=1, sent=N))
        second.wait(timeout_s=240)
    finally:
        second.close()
    got = read_results(redis_server.url, "w")  # de-duplicated by (region, window)
    assert [(r["region"], r["window"]) for r in got] == [(r, j) for r in (0, 1)
                                                         for j in range(9)]
    for r in got:
        ref = _reference(r["region"])[r["window"]]
        assert r["steps"] == ref.steps
        assert r["dominant_freq"] == pytest.approx(ref.dominant_freq, rel=1e-6)


@pytest.mark.slow
def test_spark_engine_runs_dmd_in_foreach_batch(tmp_path):
    """Spark Structured Streaming reads the region streams through carbide's Python data
    source and publishes the same windows the embedded engine would."""
    pytest.importorskip("pyspark")
    from carbide.insitu.experiment import InsituConfig, run_insitu

    flow = {"nx": 40, "ny": 16, "radius": 2, "u_in": 0.1, "reynolds": 20}

    cfg = InsituConfig(ranks=2, regions=2, steps=100, warmup=0, every=5, window=8,
                       window_stride=4, rank=3, flow=flow, engine="spark", trigger_s=1.0)
    res = run_insitu(cfg, tmp_path, timeout_s=300)
    assert res["metrics"]["windows"] == 8
    assert sorted({(w["region"], w["window"]) for w in res["windows"]}) == [
        (r, k) for r in (0, 1) for k in range(4)]
    assert res["batches"] and all(b["processing_s"] > 0 for b in res["batches"])

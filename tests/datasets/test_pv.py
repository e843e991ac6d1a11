"""PV power + PSM3 weather: the strict resampling policy on hand-computable fixtures."""

from __future__ import annotations

import math

import pytest

from carbide.exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from tests.conftest import require_dataset

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from carbide.datasets.pv import NAN_POLICY, PV_SITES, align_pv, load_pv  # noqa: E402
from carbide.testing import write_pv_fixture  # noqa: E402

NAN = float("nan")
COLUMNS = ["ac_power", "temp_air", "ghi", "ghi_clear", "dni_clear", "dhi_clear", "clearsky_index"]


def _same(actual, expected):
    assert len(actual) == len(expected), (list(actual), expected)
    for a, e in zip(actual, expected, strict=True):
        assert (math.isnan(a) and math.isnan(e)) or a == pytest.approx(e), (list(actual), expected)


def _regular(index, step):
    diffs = index[1:] - index[:-1]
    return index.is_monotonic_increasing and index.is_unique and set(diffs) == {pd.Timedelta(step)}


@pytest.fixture
def root(tmp_path):
    write_pv_fixture(tmp_path, hours=6)
    return tmp_path


def test_system50_hourly_policy(root):
    df = load_pv("system50", "1h", root, verify=False)
    assert list(df.columns) == COLUMNS
    assert df.index.name == "time" and len(df) == 6
    assert df.index[0] == pd.Timestamp("2011-04-15 00:00", tz="UTC-07:00")
    assert df.index.tz.utcoffset(None) == pd.Timedelta(hours=-7)
    assert _regular(df.index, "1h")
    assert all(str(t) == "float64" for t in df.dtypes)
    # power samples i = 0..23, NaN at i = 5 (hour 1) and i = 14 (hour 3): no partial means
    _same(df["ac_power"], [1.5, NAN, 9.5, NAN, 17.5, 21.5])
    # weather j = 0..11 within the power span; temp_air NaN at j = 5 (hour 2) only
    _same(df["temp_air"], [0.5, 2.5, NAN, 6.5, 8.5, 10.5])
    _same(df["ghi"], [5, 25, 45, 65, 85, 105])
    _same(df["ghi_clear"], [0, 50, 90, 130, 170, 210])
    _same(df["dni_clear"], [0, 100, 180, 260, 340, 420])
    _same(df["clearsky_index"], [NAN, 0.5, 0.5, 0.5, 0.5, 0.5])  # ghi_clear == 0 -> NaN
    assert df.attrs["nan_counts"] == {
        "ac_power": 2, "temp_air": 1, "ghi": 0, "ghi_clear": 0, "dni_clear": 0, "dhi_clear": 0,
        "clearsky_index": 1,
    }
    assert df.attrs["nan_policy"] == NAN_POLICY and "ANY" in NAN_POLICY
    assert [p.rsplit("/", 1)[-1] for p in df.attrs["source"]] == [
        "system_50_ac_power_2_full_DST.parquet", "system_50_ac_power_2_full_DST_psm3.parquet"
    ]
    assert df.attrs["site"] == "system50"


def test_system50_half_hourly_and_daily_span(root):
    df = load_pv("system50", "30min", root, verify=False)
    assert len(df) == 12 and _regular(df.index, "30min")
    expected = [2 * k + 0.5 for k in range(12)]
    expected[2] = expected[7] = NAN  # the bins holding samples 5 and 14
    _same(df["ac_power"], expected)
    _same(df["ghi"], [10 * k for k in range(12)])  # one weather sample per bin, unchanged
    assert df.attrs["nan_counts"]["ac_power"] == 2
    # 6 hours of data hold no complete day
    with pytest.raises(InvalidConfigError, match="no complete"):
        load_pv("system50", "1D", root, verify=False)


def test_serf_gap_in_timestamps_counts_as_missing(root):
    df = load_pv("serf-east", "1h", root, verify=False)
    assert list(df.columns) == COLUMNS  # calendar columns dropped, canonical order
    assert df.index[0] == pd.Timestamp("2016-07-01 00:00", tz="UTC-07:00") and len(df) == 6
    _same(df["ac_power"], [1.5, NAN, 9.5, 13.5, 17.5, 21.5])  # row i = 6 is absent in the csv
    _same(df["temp_air"], [4 * k + 1.5 for k in range(6)])
    _same(df["clearsky_index"], [0.5] * 6)
    fine = load_pv("serf-east", "15min", root, verify=False)
    assert len(fine) == 24 and math.isnan(fine["ac_power"].iloc[6])
    assert fine["ac_power"].iloc[7] == 7.0
    assert fine.attrs["nan_counts"]["ac_power"] == 1


def test_tz_conversion(root):
    df = load_pv("system50", "1h", root, verify=False, tz="UTC")
    assert str(df.index.tz) == "UTC"
    assert df.index[0] == pd.Timestamp("2011-04-15 07:00", tz="UTC")
    with pytest.raises(InvalidConfigError, match="Not/AZone"):
        load_pv("system50", "1h", root, verify=False, tz="Not/AZone")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"site": "system51"}, "'system51'.*system50, serf-east"),
        ({"freq": "xyz"}, "'xyz' is not a pandas offset"),
        ({"freq": "MS"}, "no fixed length"),
        ({"freq": "-1h"}, "positive"),
        ({"freq": "15min"}, "'15min' is finer than the data.*'30min'"),
        ({"freq": "45min"}, "'45min' is not a multiple"),
    ],
)
def test_bad_config(root, kwargs, message):
    with pytest.raises(InvalidConfigError, match=message):
        load_pv(**{"site": "system50", "freq": "1h", "root": root, "verify": False, **kwargs})


def test_fixture_fails_checksum(root):
    with pytest.raises(DatasetCorruptError, match="checksum"):
        load_pv("serf-east", "1h", root)


def test_missing_file_names_path(root):
    (root / "pv" / "system_50_ac_power_2_full_DST_psm3.parquet").unlink()
    with pytest.raises(DatasetNotFoundError, match="system_50_ac_power_2_full_DST_psm3.parquet"):
        load_pv("system50", "1h", root, verify=False)
    assert len(load_pv("serf-east", "1h", root, verify=False)) == 6  # other site unaffected


def _edit_serf_power(root, edit):
    path = root / "pv" / "serf_east_15min_ac_power.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


def test_duplicate_timestamps_are_corrupt(root):
    path = _edit_serf_power(root, lambda lines: lines[:4] + [lines[3]] + lines[4:])
    with pytest.raises(DatasetCorruptError, match="duplicate timestamps") as info:
        load_pv("serf-east", "1h", root, verify=False)
    assert str(path) in str(info.value)


def test_non_increasing_timestamps_are_corrupt(root):
    path = _edit_serf_power(root, lambda lines: [lines[0], lines[2], lines[1], *lines[3:]])
    with pytest.raises(DatasetCorruptError, match="non-increasing") as info:
        load_pv("serf-east", "1h", root, verify=False)
    assert str(path) in str(info.value)


def test_off_grid_and_unparseable_timestamps(root):
    _edit_serf_power(root, lambda lines: [*lines[:3], lines[3].replace(":30:00", ":31:00"),
                                          *lines[4:]])
    with pytest.raises(DatasetCorruptError, match="not on the 15min grid"):
        load_pv("serf-east", "1h", root, verify=False)
    _edit_serf_power(root, lambda lines: [*lines[:3], "yesterday,1.0", *lines[4:]])
    with pytest.raises(DatasetCorruptError, match="ISO timestamps") as info:
        load_pv("serf-east", "1h", root, verify=False)
    assert info.value.__cause__ is not None


def test_bad_parquet_and_missing_column(root):
    path = root / "pv" / "system_50_ac_power_2_full_DST.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DatasetCorruptError, match="cannot read .*full_DST.parquet") as info:
        load_pv("system50", "1h", root, verify=False)
    assert info.value.__cause__ is not None
    weather = root / "pv" / "serf_east_psm3_data.csv"
    frame = pd.read_csv(weather).drop(columns=["ghi_clear"])
    frame.to_csv(weather, index=False)
    with pytest.raises(DatasetCorruptError, match="lacks column.*ghi_clear"):
        load_pv("serf-east", "1h", root, verify=False)


def test_align_pv_on_user_frames():
    tz = "UTC-07:00"
    power = pd.Series(
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        index=pd.date_range("2020-01-01 00:10", periods=8, freq="10min", tz=tz),
    )
    weather = pd.DataFrame(
        {"temp_air": [10.0, 20.0, 30.0, 40.0]},
        index=pd.date_range("2020-01-01 00:00", periods=4, freq="20min", tz=tz).tz_convert("UTC"),
    )
    df = align_pv(power, weather, "20min")
    # overlap is [00:10, 01:20): bins start at midnight, so the full 20-min bins are
    # 00:20, 00:40 and 01:00
    assert list(df.index) == list(pd.date_range("2020-01-01 00:20", periods=3, freq="20min",
                                                tz=tz))
    _same(df["ac_power"], [2.5, 4.5, 6.5])
    _same(df["temp_air"], [20.0, 30.0, 40.0])
    assert "clearsky_index" not in df.columns
    with pytest.raises(InvalidConfigError, match="tz-aware"):
        align_pv(power.tz_localize(None), weather, "20min")
    with pytest.raises(InvalidConfigError, match="'30min' is not a multiple"):
        align_pv(power, weather, "30min")


@pytest.mark.data
def test_real_system50(shared_root):
    require_dataset(shared_root, "pv/system_50_ac_power_2_full_DST.parquet",
                    "pv/system_50_ac_power_2_full_DST_psm3.parquet")
    df = load_pv("system50", "1h", shared_root)
    assert list(df.columns) == COLUMNS
    assert len(df) == 23_808
    assert df.index[0] == pd.Timestamp("2011-04-15 00:00", tz="UTC-07:00")
    assert df.index[-1] == pd.Timestamp("2013-12-31 23:00", tz="UTC-07:00")
    assert _regular(df.index, "1h")
    counts = df.attrs["nan_counts"]
    assert counts["ac_power"] == 753 and counts["temp_air"] == counts["ghi"] == 0
    assert counts["clearsky_index"] == 11_361
    assert int(df["ac_power"].isna().sum()) == counts["ac_power"]
    assert df["clearsky_index"].max() <= 1.0 + 1e-9
    half = load_pv("system50", "30min", shared_root)
    assert len(half) == 47_616 and half.attrs["nan_counts"]["ac_power"] == 1_487


@pytest.mark.data
def test_real_serf_east(shared_root):
    require_dataset(shared_root, "pv/serf_east_15min_ac_power.csv", "pv/serf_east_psm3_data.csv")
    df = load_pv("serf-east", "1h", shared_root)
    assert list(df.columns) == COLUMNS
    assert len(df) == 2_500
    assert df.index[0] == pd.Timestamp("2016-07-01 00:00", tz="UTC-07:00")
    assert df.index[-1] == pd.Timestamp("2016-10-13 03:00", tz="UTC-07:00")
    assert _regular(df.index, "1h")
    assert df.attrs["nan_counts"]["ac_power"] == 0
    assert df.attrs["nan_counts"]["clearsky_index"] == 944
    assert df["ac_power"].min() < 0  # slightly negative at night, kept as measured
    assert set(PV_SITES) == {"system50", "serf-east"}

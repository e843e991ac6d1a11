"""Age-aware data sets: window/age alignment, heterogeneous ages, age inputs, NaN policy,
chronological split and bad input, on hand-made series."""

from __future__ import annotations

import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError

pd = pytest.importorskip("pandas")

from carbide.forecasting.datasets import (  # noqa: E402
    AgeAwareDataset,
    as_time_table,
    make_age_dataset,
    make_joint_dataset,
)

T = 40


def _table(n=T, tz=None):
    """Hourly; y = i, a = 100 i, b = 1000 + i: every value names its own row."""
    i = np.arange(n, dtype=np.float64)
    idx = pd.date_range("2021-03-01", periods=n, freq="h", tz=tz)
    return pd.DataFrame({"y": i, "a": 100 * i, "b": 1000 + i}, index=idx)


def test_each_window_ends_exactly_delta_steps_before_the_target():
    df = _table()
    ds = make_age_dataset(df, "y", ["a"], window=3, ages=5)
    # a target at row t needs rows t - 5 - 2 .. t - 5: the first target is row 7
    assert len(ds) == T - 7 and ds.candidates == T - 7 and ds.dropped == 0
    assert ds.X.shape == (T - 7, 3, 1) and ds.X.dtype == np.float32
    rows = np.asarray(ds.y, dtype=int)  # y = row number
    assert rows[0] == 7
    np.testing.assert_array_equal(ds.X[:, -1, 0], 100 * (rows - 5))  # ends Delta before t
    np.testing.assert_array_equal(ds.X[:, 0, 0], 100 * (rows - 7))
    # target times are the rows' timestamps
    assert pd.Timestamp(ds.times[0]) == df.index[7]
    assert (ds.ages == 5).all() and ds.window == 3 and ds.features == ("a",)


def test_heterogeneous_ages_per_feature_in_steps_or_time_offsets():
    df = _table(tz="UTC-07:00")
    ds = make_age_dataset(df, "y", ["a", "b"], window=2, ages={"a": 1, "b": "4h"})
    rows = np.asarray(ds.y, dtype=int)
    assert rows[0] == 5  # the oldest input of row t is t - 4 - 1
    np.testing.assert_array_equal(ds.X[:, :, 0], 100 * (rows[:, None] - [2, 1]))
    np.testing.assert_array_equal(ds.X[:, :, 1], 1000 + rows[:, None] - [5, 4])
    assert ds.ages[0].tolist() == [1, 4]
    same = make_age_dataset(df, "y", ["a", "b"], window="2h", ages=[1, 4])
    np.testing.assert_array_equal(same.X, ds.X)
    # the target may be its own (aged) feature
    own = make_age_dataset(df, "y", ["y"], window=1, ages=3)
    np.testing.assert_array_equal(own.X[:, 0, 0], own.y - 3)


def test_age_input_channels_and_joint_pool():
    df = _table()
    ds = make_age_dataset(df, "y", ["a", "b"], 2, {"a": 1, "b": 3}, age_input=True)
    x = ds.inputs
    assert x.shape == (len(ds), 2, 4) and ds.num_inputs == 4
    np.testing.assert_allclose(x[:, :, 2], 1 / 3)  # age / largest age, constant in the window
    np.testing.assert_allclose(x[:, :, 3], 1.0)
    np.testing.assert_array_equal(x[:, :, :2], ds.X)
    assert ds.with_age_input(False).inputs.shape == (len(ds), 2, 2)

    joint = make_joint_dataset(df, "y", "a,b", 2, [1, 4, {"a": 2, "b": 6}], age_input=True)
    parts = [make_age_dataset(df, "y", ["a", "b"], 2, v) for v in (1, 4, {"a": 2, "b": 6})]
    assert len(joint) == sum(len(p) for p in parts)
    assert joint.age_vectors == [(1, 1), (2, 6), (4, 4)]
    sel = joint.for_ages((2, 6))
    np.testing.assert_allclose(sel.inputs[:, 0, 2:], [[2 / 6, 1.0]] * len(sel))
    np.testing.assert_array_equal(sel.X, parts[2].X)


def test_joint_sample_mode_draws_one_age_per_target_time():
    df = _table(200)
    a = make_joint_dataset(df, "y", ["a"], 1, [1, 5, 9], mode="sample", seed=3)
    b = make_joint_dataset(df, "y", ["a"], 1, [1, 5, 9], mode="sample", seed=3)
    np.testing.assert_array_equal(a.ages, b.ages)
    assert len(np.unique(a.times)) == len(a)  # no target time twice
    assert set(np.unique(a.ages)) == {1, 5, 9}
    only = make_joint_dataset(df, "y", ["a"], 1, [1, 5], mode="sample", weights=[0, 1])
    assert set(np.unique(only.ages)) == {5}


def test_nan_policy_drops_and_counts_windows_touching_nan():
    df = _table()
    df.iloc[10, df.columns.get_loc("a")] = np.nan
    df.iloc[20, df.columns.get_loc("y")] = np.nan
    ds = make_age_dataset(df, "y", ["a", "b"], window=3, ages=2)
    # a's NaN at row 10 is in the windows of targets 12, 13, 14; y's NaN costs target 20
    assert ds.dropped == 4 and ds.candidates == T - 4 and len(ds) == T - 8
    assert ds.dropped_by == {"y": 1, "a": 3, "b": 0}
    assert not np.isnan(ds.X).any() and not set(ds.y.astype(int)) & {12, 13, 14, 20}
    # a gap in the timestamps is a NaN row of every column: target 10 goes too
    gap = _table().drop(_table().index[10])
    ds = make_age_dataset(gap, "y", ["a"], 3, 2)
    assert ds.dropped == 4 and ds.dropped_by == {"y": 1, "a": 3}
    assert as_time_table(gap).gaps == 1


def test_split_is_chronological_with_fixed_cuts_and_no_straddling_windows():
    df = _table(400)
    parts = {}
    for age in (1, 24):
        ds = make_age_dataset(df, "y", ["a"], window=6, ages=age)
        sp = ds.split((0.5, 0.25))
        parts[age] = sp
        b1, b2 = sp.boundaries
        assert pd.DatetimeIndex(sp.train.times).max() < b1
        assert pd.DatetimeIndex(sp.val.earliest()).min() >= b1
        assert pd.DatetimeIndex(sp.val.times).max() < b2
        assert pd.DatetimeIndex(sp.test.earliest()).min() >= b2
        assert len(sp.train) + len(sp.val) + len(sp.test) + sp.purged == len(ds)
        assert sp.purged == 2 * (age + 6 - 1)
    assert parts[1].boundaries == parts[24].boundaries  # same cuts whatever the age


def test_time_column_instead_of_index():
    df = _table().reset_index(names="when")
    ds = make_age_dataset(df, "y", ["a"], 1, 1, time="when")
    assert len(ds) == T - 1
    with pytest.raises(InvalidConfigError, match="time column 'stamp' not found.*'when'"):
        make_age_dataset(df, "y", ["a"], 1, 1, time="stamp")
    with pytest.raises(InvalidConfigError, match="DatetimeIndex.*time=<column>"):
        make_age_dataset(df, "y", ["a"], 1, 1)


@pytest.mark.parametrize(("make", "match"), [
    (lambda d: make_age_dataset(d, "y", ["a", "cloud"], 1, 1),
     r"unknown column\(s\) \['cloud'\]; available columns: \['y', 'a', 'b'\]"),
    (lambda d: make_age_dataset(d, "power", ["a"], 1, 1), r"unknown column\(s\) \['power'\]"),
    (lambda d: make_age_dataset(d.assign(b=np.nan), "y", ["a", "b"], 1, 1),
     "column 'b' is all NaN"),
    (lambda d: make_age_dataset(d, "y", ["a"], 1, {"a": 40}),
     "age 40 of feature 'a' plus window 1 needs 41 rows of history, but the series has 40"),
    (lambda d: make_age_dataset(d, "y", ["a"], 35, 6),
     "age 6 of feature 'a' plus window 35 needs 41 rows"),
    (lambda d: make_age_dataset(d, "y", ["a"], 1, -2), "age of feature 'a' must be >= 0, got -2"),
    (lambda d: make_age_dataset(d, "y", ["a"], 1, "90min"),
     "age of 'a' is '90min', not a whole multiple"),
    (lambda d: make_age_dataset(d, "y", ["a"], 0, 1), "window must be >= 1 step, got 0"),
    (lambda d: make_age_dataset(d, "y", ["y"], 1, 0), "feature 'y' is the target; at age 0"),
    (lambda d: make_age_dataset(d, "y", ["a"], 1, {"b": 1}), r"missing \['a'\]"),
    (lambda d: make_age_dataset(d, "y", ["a"], 30, 5, min_samples=10),
     r"only 6 sample\(s\) survive"),
    (lambda d: make_age_dataset(d.assign(a="x"), "y", ["a"], 1, 1), "column 'a' is not numeric"),
])
def test_bad_input_names_the_column_or_value(make, match):
    with pytest.raises(InvalidConfigError, match=match):
        make(_table())


@pytest.mark.parametrize(("index", "match"), [
    (lambda i: i.insert(5, i[4]), "duplicated timestamps: 2021-03-01 04:00:00 .*row 4"),
    (lambda i: i[:5].append(i[6:]).insert(6, i[2]), "non-increasing timestamps"),
    (lambda i: i[:10].append(i[10:] + pd.Timedelta("20min")),
     r"irregular sampling: timestamp 2021-03-01 10:20:00 \(row 10\) is not on the"),
])
def test_bad_timestamps_are_named(index, match):
    df = _table()
    idx = index(df.index)
    bad = pd.DataFrame({"y": np.arange(len(idx), dtype=float), "a": 1.0}, index=idx)
    with pytest.raises(InvalidConfigError, match=match):
        make_age_dataset(bad, "y", ["a"], 1, 1)


def test_concat_refuses_different_windows():
    df = _table()
    a = make_age_dataset(df, "y", ["a"], 1, 1)
    b = make_age_dataset(df, "y", ["a"], 2, 1)
    with pytest.raises(InvalidConfigError, match="share features, target and window"):
        AgeAwareDataset.concat([a, b])


@pytest.mark.data
def test_real_pv_data_builds_aged_windows(shared_root):
    pytest.importorskip("pyarrow")
    from carbide.datasets import load_pv

    df = load_pv("system50", "1h", shared_root)
    ds = make_age_dataset(df, "ac_power", ["ac_power", "temp_air"], 24, {"ac_power": 24,
                                                                         "temp_air": 6})
    assert ds.X.shape[1:] == (24, 2) and not np.isnan(ds.X).any()
    assert ds.dropped == ds.candidates - len(ds) and ds.dropped > 0  # power has NaN hours
    with pytest.raises(InvalidConfigError, match="'clouds'.*available columns.*'ghi'"):
        make_age_dataset(df, "ac_power", ["clouds"], 1, 1)

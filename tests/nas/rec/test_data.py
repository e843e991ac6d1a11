from __future__ import annotations

import numpy as np
import pytest

from carbide.exceptions import DatasetNotFoundError, InvalidConfigError
from carbide.nas.rec import TabularCTR, infer_roles, read_avazu, read_criteo
from carbide.nas.rec.data import CRITEO_CATEGORICAL, CRITEO_INTEGER, SPLIT_SEED

from .conftest import make_frame


def test_encoding_shapes_split_and_stats(table, frame):
    assert table.sparse.shape == (len(frame), 2) and table.sparse.dtype == np.int64
    assert table.dense.shape == (len(frame), 1) and table.dense.dtype == np.float32
    assert table.multi_hot.shape == (len(frame), 1, 2)
    sizes = {k: len(v) for k, v in table.splits.items()}
    assert sizes["train"] == pytest.approx(0.8 * len(frame), abs=2)
    assert sizes["val"] == pytest.approx(0.1 * len(frame), abs=2)
    allidx = np.concatenate(list(table.splits.values()))
    assert sorted(allidx.tolist()) == list(range(len(frame)))
    # stratified: each split's click rate near the overall rate
    for name in table.splits:
        assert abs(table.positive_rate(name) - table.label.mean()) < 0.08
    tr = table.splits["train"]
    assert abs(float(table.dense[tr].mean())) < 1e-5
    assert float(table.dense[tr].std()) == pytest.approx(1.0, abs=1e-4)
    # dense is log1p then standardized
    z = np.log1p(frame["count"].to_numpy())
    expect = (z - z[tr].mean()) / z[tr].std()
    np.testing.assert_allclose(table.dense[:, 0], expect, rtol=1e-4, atol=1e-5)
    assert table.vocab_sizes[0] == frame["user"].iloc[tr].nunique() + 1
    assert table.bag_sizes == (6,)  # padding + a..d + OOV
    assert table.num_tokens == 3


def test_split_is_seeded(frame):
    a = TabularCTR.from_dataframe(frame, sparse=["user"], label="click")
    b = TabularCTR.from_dataframe(frame, sparse=["user"], label="click", seed=SPLIT_SEED)
    c = TabularCTR.from_dataframe(frame, sparse=["user"], label="click", seed=1)
    assert np.array_equal(a.splits["test"], b.splits["test"])
    assert not np.array_equal(a.splits["test"], c.splits["test"])


def test_unseen_category_goes_to_oov():
    df = make_frame(60)
    df.loc[:, "item"] = "seen"
    df.loc[df.index[:40], "user"] = "u"
    data = TabularCTR.from_dataframe(df, sparse=["user", "item"], label="click")
    rare = df["user"].to_numpy()
    train_vals = set(rare[data.splits["train"]])
    for split in ("val", "test"):
        for i in data.splits[split]:
            if rare[i] not in train_vals:
                assert data.sparse[i, 0] == 0
    assert (data.sparse[data.splits["train"], 0] > 0).all()


def test_hashing_cap_bounds_ids(frame):
    data = TabularCTR.from_dataframe(frame, sparse=["user"], label="click", max_table_size=5)
    assert data.vocab_sizes == (5,)
    assert data.sparse.min() >= 1 and data.sparse.max() <= 4


def test_nan_counted_imputed_or_strict(frame):
    df = frame.copy()
    df.loc[df.index[:7], "count"] = np.nan
    data = TabularCTR.from_dataframe(df, dense=["count"], sparse=["user"], label="click")
    assert data.nan_counts == {"count": 7}
    assert np.isfinite(data.dense).all()
    with pytest.raises(InvalidConfigError, match="'count' has 7 NaN"):
        TabularCTR.from_dataframe(df, dense=["count"], label="click", strict=True)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"sparse": ["nope"], "label": "click"}, r"\['nope'\] not in the table"),
    ({"sparse": ["user"], "label": "missing"}, r"\['missing'\] not in the table"),
    ({"sparse": ["user"], "dense": ["user"], "label": "click"}, "more than one role"),
    ({"label": "click"}, "at least one"),
    ({"sparse": ["item"], "label": "user"}, "label 'user' must be binary"),
    ({"dense": ["item"], "label": "click"}, "dense field 'item' has non-numeric"),
])
def test_bad_columns_name_the_field(frame, kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        TabularCTR.from_dataframe(frame, **kwargs)


def test_non_binary_numeric_label(frame):
    df = frame.assign(rating=np.arange(len(frame)) % 5)
    with pytest.raises(InvalidConfigError, match="label 'rating' must be binary 0/1"):
        TabularCTR.from_dataframe(df, sparse=["user"], label="rating")


def test_empty_split_is_an_error():
    df = make_frame(6)
    with pytest.raises(InvalidConfigError, match="would be empty"):
        TabularCTR.from_dataframe(df, sparse=["user"], label="click")


def _write_criteo(path, n=30, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "w") as fh:
        for i in range(n):
            ints = ["" if rng.random() < 0.1 else str(int(rng.integers(0, 50))) for _ in range(13)]
            cats = ["" if rng.random() < 0.1 else f"{int(rng.integers(0, 8)):08x}"
                    for _ in range(26)]
            fh.write("\t".join([str(i % 2)] + ints + cats) + "\n")


def test_criteo_reader_streams_and_encodes(tmp_path):
    path = tmp_path / "train.txt"
    _write_criteo(path)
    chunks = list(read_criteo(path, chunk_rows=8))
    assert [len(c) for c in chunks] == [8, 8, 8, 6]
    assert list(chunks[0].columns) == ["label", *CRITEO_INTEGER, *CRITEO_CATEGORICAL]
    assert sum(len(c) for c in read_criteo(path, chunk_rows=8, max_rows=11)) == 11
    data = TabularCTR.from_criteo(path)
    assert data.sparse.shape == (30, 26) and data.dense.shape == (30, 13)
    assert sum(data.nan_counts.values()) > 0 and np.isfinite(data.dense).all()


def test_criteo_reader_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="cannot be redistributed"):
        list(read_criteo(tmp_path / "none.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_text("1\tx\n0\ty\n")
    with pytest.raises(InvalidConfigError, match="not a Criteo"):
        list(read_criteo(bad))


def test_avazu_reader(tmp_path):
    path = tmp_path / "train.csv"
    lines = ["id,click,hour,C1,banner_pos,site_id"]
    for i in range(20):
        lines.append(f"{i},{i % 2},14102{100 + i % 3},1005,{i % 2},s{i % 4}")
    path.write_text("\n".join(lines) + "\n")
    chunk = next(read_avazu(path, chunk_rows=50))
    assert "hour_of_day" in chunk and "weekday" in chunk and "hour" not in chunk
    assert chunk["hour_of_day"].tolist()[:3] == ["0", "1", "2"]
    data = TabularCTR.from_avazu(path)
    assert data.sparse.shape[1] == 5 and data.num_dense == 0
    path.write_text("id,label\n1,0\n")
    with pytest.raises(InvalidConfigError, match="no 'click' column"):
        next(read_avazu(path))


def test_infer_roles_and_csv(tmp_path, frame):
    df = frame.drop(columns=["genres"]).assign(level=np.arange(len(frame)) % 4,
                                                big=np.arange(len(frame)))
    sparse, dense = infer_roles(df, "click")
    assert sparse == ("user", "item", "level") and dense == ("count", "big")
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    data = TabularCTR.from_csv(path, label="click")
    assert data.sparse_fields == sparse and data.dense_fields == dense
    with pytest.raises(InvalidConfigError, match="label column 'nope'"):
        infer_roles(df, "nope")
    with pytest.raises(DatasetNotFoundError, match="missing.csv not found"):
        TabularCTR.from_csv(tmp_path / "missing.csv", label="click")


def _write_movielens(root):
    d = root / "movielens-100k"
    d.mkdir()
    (d / "ml-100k.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "1\t10\t5\t1\n1\t11\t2\t2\n2\t10\t4\t3\n")
    (d / "ml-100k.user").write_text(
        "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        "1\t24\tM\ttechnician\t85711\n2\t53\tF\tother\t94043\n")
    (d / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "10\tA\t1995\tAction Comedy\n11\tB\t1994\tDrama\n")


def test_movielens_loader_on_fixture(tmp_path):
    from carbide.datasets import MOVIELENS_CTR_FIELDS, load_movielens_ctr

    _write_movielens(tmp_path)
    df = load_movielens_ctr(tmp_path, verify=False)
    assert df["click"].tolist() == [1, 0, 1]
    assert df["genres"].iloc[0] == ("Action", "Comedy")
    assert df["zip_prefix"].tolist() == ["857", "857", "940"]
    assert df["user_activity"].tolist() == [2.0, 2.0, 1.0]
    assert df["item_activity"].tolist() == [2.0, 1.0, 2.0]
    cols = set(MOVIELENS_CTR_FIELDS["sparse"]) | set(MOVIELENS_CTR_FIELDS["dense"])
    assert cols <= set(df.columns)
    with pytest.raises(DatasetNotFoundError, match="movielens-100k"):
        load_movielens_ctr(tmp_path / "nowhere")

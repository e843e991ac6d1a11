"""MovieLens-100k (GroupLens) in RecBole's atomic-file layout, as a click-through table.

Files under ``<root>/movielens-100k/`` (tab-separated, typed headers such as
``user_id:token``): ``ml-100k.inter`` (user, item, rating 1-5, timestamp), ``ml-100k.user``
(age, gender, occupation, zip code) and ``ml-100k.item`` (title, release year, genres as a
space-separated ``class:token_seq``). As CTR data a rating >= 4 is a click (55 % positive),
the usual convention for explicit-rating sets.

Needs pandas (``carbide[forecast]``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._imports import optional_import
from ._root import dataset_files

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["MOVIELENS_CTR_FIELDS", "load_movielens_ctr"]

#: Field roles of :func:`load_movielens_ctr`'s table (for ``TabularCTR.from_dataframe``).
MOVIELENS_CTR_FIELDS = {
    "sparse": ("user", "item", "age", "gender", "occupation", "zip_prefix", "year"),
    "dense": ("user_activity", "item_activity"),
    "multi_hot": ("genres",),
    "label": "click",
}


def _read(path: os.PathLike[str] | str) -> pd.DataFrame:
    pd = optional_import("pandas", "forecast", purpose="the MovieLens-100k loader")
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    df.columns = [c.split(":")[0] for c in df.columns]
    return df


def load_movielens_ctr(root: str | os.PathLike[str] | None = None, *,
                       verify: bool = True) -> pd.DataFrame:
    """MovieLens-100k as one CTR table, one row per rating (100,000 rows).

    Columns: ``user``, ``item``, ``age``, ``gender``, ``occupation``, ``zip_prefix`` (first
    three characters), ``year`` (release year, ``""`` when unknown): strings, sparse;
    ``genres``: a tuple of genre strings (multi-hot); ``user_activity``, ``item_activity``:
    float, the number of ratings of the user / the item (dense); ``click``: int64, rating >= 4.
    Roles are in :data:`MOVIELENS_CTR_FIELDS`. The activity counts are taken over the whole
    file (as count features usually are), so they see the ratings of every split; they carry
    no label information.

    Raises:
        DatasetNotFoundError: a file is missing (names the path and the source).
        DatasetCorruptError: a checksum differs (``verify=True``).
    """
    files = dataset_files("movielens-100k", root, verify=verify)
    inter = _read(files["movielens-100k/ml-100k.inter"])
    users = _read(files["movielens-100k/ml-100k.user"])
    items = _read(files["movielens-100k/ml-100k.item"])
    df = inter.merge(users, on="user_id", how="left").merge(items, on="item_id", how="left")
    out = df[["user_id", "item_id", "age", "gender", "occupation"]].rename(
        columns={"user_id": "user", "item_id": "item"}).copy()
    out["zip_prefix"] = df["zip_code"].fillna("").str[:3]
    out["year"] = df["release_year"].fillna("")
    out["genres"] = [tuple(str(g).split()) for g in df["class"].fillna("")]
    out["user_activity"] = df.groupby("user_id")["user_id"].transform("size").astype(float)
    out["item_activity"] = df.groupby("item_id")["item_id"].transform("size").astype(float)
    out["click"] = (df["rating"].astype(float) >= 4).astype("int64")
    return out.reset_index(drop=True)

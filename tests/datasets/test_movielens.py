from __future__ import annotations

from carbide.datasets import MOVIELENS_CTR_FIELDS, get_info, load_movielens_ctr
from tests.conftest import require_dataset


def test_registry_entry():
    info = get_info("movielens-100k")
    assert info.loader == "carbide.datasets.movielens:load_movielens_ctr"


def test_real_movielens_as_ctr(shared_root):
    require_dataset(shared_root, "movielens-100k/ml-100k.inter")
    df = load_movielens_ctr(shared_root)
    assert len(df) == 100_000
    assert abs(df["click"].mean() - 0.55375) < 1e-9
    assert df["user"].nunique() == 943 and df["item"].nunique() == 1682
    for col in (*MOVIELENS_CTR_FIELDS["sparse"], *MOVIELENS_CTR_FIELDS["dense"], "genres"):
        assert df[col].notna().all()

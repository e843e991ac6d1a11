import pytest

from carbide.nas.gem.repro import tiny_plan
from carbide.results import read_results


@pytest.mark.slow
@pytest.mark.data
def test_reduced_quick_repro_writes_the_contract(tmp_path, shared_root, monkeypatch):
    from carbide.nas.gem.repro import run_repro

    monkeypatch.setenv("CARBIDE_DATA", str(shared_root))
    run_repro(tmp_path, quick=True, plan=tiny_plan(), log=lambda msg: None)
    res = read_results(tmp_path)
    m = res["metrics"]
    assert res["system"] == "nasgem"
    assert m["embed_spearman"] > m["embed_onehot_spearman"]
    for name in ("nasgem", "rea", "random"):
        assert 0 <= m[f"nb201_regret_{name}"] < m["nb201_optimum"]
        assert len(m["curves_mean_best_val_acc"][f"nb201_{name}"]) == 40
    parts = {r["part"] for r in res["rows"]}
    assert parts == {"embedding", "predictor", "search_nb201", "search_nb101", "search_large",
                     "efficiency"}
    assert "efficiency_10_best_params_M" in m
    for png in ("embedding", "predictor", "search_nb201", "search_nb101", "search_large"):
        assert (tmp_path / f"{png}.png").is_file()
    report = (tmp_path / "report.md").read_text()
    assert "agreed reconstruction" in report and "62%" in report

import math
import re
from dataclasses import replace

import pytest

from carbide.nas.gem.baselines import GCNConfig
from carbide.nas.gem.encoder import EncoderConfig
from carbide.nas.gem.predictor import PredictorConfig
from carbide.nas.gem.repro import FULL_PLAN, QUICK_PLAN, ReproPlan, render, run_repro
from carbide.nas.gem.search import NASGEMConfig
from carbide.results import read_results, rerender

_SMALL = NASGEMConfig(n_init=10, top_k=10, encoder_cells=200, encoder=EncoderConfig(steps=100),
                      predictor=PredictorConfig(ensemble=2, epochs=150))
#: every part of the reproduction at the smallest size that still measures something
TINY = replace(
    QUICK_PLAN, embed_spaces=("nb201", "cell:20"), embed_train=200, embed_heldout=60,
    encoder_steps=100, predictor_sizes=(10, 40), predictor_seeds=2,
    predictor_test_nb201=300, predictor_test_nb101=50, study_encoder_cells=100,
    study_predictor=PredictorConfig(hidden=(16,), ensemble=2, epochs=60),
    study_gcn=GCNConfig(hidden=8, epochs=30),
    ablation_encoders=(EncoderConfig(steps=20, emb_dim=8), EncoderConfig(steps=20, emb_dim=16)),
    ablation_sizes=(20,), ablation_seeds=1,
    nb201_budget=30, nb101_budget=30, seeds=2, nasgem=_SMALL,
    large_space="cell:20", large_budget=8, large_seeds=1,
    large_nasgem=replace(_SMALL, n_init=4, top_k=2, pool_size=300, encoder_cells=100),
    large_train={"max_steps": 5, "channels": 4, "num_stacks": 1, "batch_size": 32,
                 "train_size": 256, "val_size": 128},
    efficiency_weights=(0.0, 10.0), efficiency_seeds=1, efficiency_budget=20,
)


def test_plans_are_sized_for_their_budget():
    assert 0 < QUICK_PLAN.expected_minutes <= 2 < FULL_PLAN.expected_minutes
    assert QUICK_PLAN.seeds >= 2 and FULL_PLAN.predictor_seeds == 10
    assert FULL_PLAN.predictor_sizes == (10, 20, 50, 100, 200, 400)
    assert FULL_PLAN.stages and not QUICK_PLAN.stages


@pytest.mark.slow
@pytest.mark.data
def test_reduced_quick_repro_writes_the_contract(tmp_path, shared_root):
    run_repro(tmp_path, quick=True, plan=TINY, root=shared_root)
    res = read_results(tmp_path)
    m = res["metrics"]
    assert res["system"] == "nasgem"
    for key in ("embed_spearman", "embed_onehot_spearman", "embed_cell20_spearman"):
        assert -1 <= m[key] <= 1, key
    assert m["embed_spearman"] > m["embed_onehot_spearman"]
    assert 90 < m["nb201_optimum"] < 100
    for name in ("nasgem", "nasgem_onehot", "rea", "random"):
        assert 0 <= m[f"nb201_regret_{name}"] < m["nb201_optimum"]
        assert math.isfinite(m[f"nb201_regret_{name}_sd"]) and m[f"nb201_regret_{name}_sd"] >= 0
        assert 0 <= m[f"nb101_regret_{name}"] < 100
        key = name.replace("_", "-") if name == "nasgem_onehot" else name
        assert len(m["curves_mean_best_val_acc"][f"nb201_{key}"]) == 30
    for method in ("wl", "onehot", "path", "gcn"):
        for bench in ("nb201", "nb101"):
            assert -1 <= m[f"predictor_{bench}_{method}_40_spearman"] <= 1
    for key in ("efficiency_0_best_val_acc", "efficiency_10_best_val_acc"):
        assert 0 < m[key] <= m["nb201_optimum"]
    assert 0 < m["efficiency_10_best_params_M"] <= m["efficiency_0_best_params_M"] + 1.5
    assert 0 <= m["large_best_val_acc_nasgem"] <= 100
    parts = {r["part"] for r in res["rows"]}
    assert parts == {"embedding", "ablation", "predictor", "search_nb201", "search_nb101",
                     "search_large", "efficiency", "reference", "stage", "run"}
    for png in ("embedding", "predictor_nb201", "predictor_nb101", "search_nb201",
                "regret_nb201", "regret_nb101", "search_nb101", "search_large"):
        assert (tmp_path / f"{png}.png").stat().st_size > 1000
    report = (tmp_path / "report.md").read_text()
    assert "agreed reconstruction" in report and "62%" in report
    assert "DARTS-V1 (paper)" in report and "54.30" in report
    assert not re.search(r"\b(nan|inf)\b", report, re.I)
    # the report is a pure function of the rows
    again = rerender(tmp_path, plan_cls=ReproPlan, render=render)
    assert again["metrics"] == m and (tmp_path / "report.md").read_text() == report


def test_stages_resume_from_their_files_and_refuse_another_plan(tmp_path):
    from carbide.exceptions import InvalidConfigError
    from carbide.nas.gem.repro import _Stages

    calls = []

    def work():
        calls.append(1)
        return [{"part": "x", "value": 1.5}]

    first = _Stages(tmp_path, TINY, 0).run("a:1", work)
    again = _Stages(tmp_path, TINY, 0).run("a:1", work)
    assert calls == [1] and first == again and again[0]["value"] == 1.5
    assert again[-1]["part"] == "stage" and again[-1]["stage"] == "a:1"
    assert (tmp_path / "a-1.json").exists() and not (tmp_path / "a-1.lock").exists()
    # a lock left by a process that is gone is taken over
    (tmp_path / "b.lock").write_text("999999999")
    assert _Stages(tmp_path, TINY, 0).run("b", work)[0]["part"] == "x"
    with pytest.raises(InvalidConfigError, match="another plan or seed"):
        _Stages(tmp_path, TINY, 1)

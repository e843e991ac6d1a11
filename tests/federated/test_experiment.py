import json
import subprocess
import sys

import pytest
import torch

from carbide.exceptions import InvalidConfigError
from carbide.federated.experiment import BackdoorRunConfig, attack_data, run_backdoor
from carbide.results import read_results


def _cli(*args, data=None):
    import os

    env = dict(os.environ)
    if data is not None:
        env["CARBIDE_DATA"] = str(data)
    return subprocess.run([sys.executable, "-m", "carbide.cli", "backdoor", *args],
                          capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"partition": "hi:1.5"}, r"hi must be a number in \[0.0, 1.0\], got 1.5"),
    ({"attackers": 30}, "attackers=30 must be fewer than clients=30"),
    ({"defense": "krum:4"}, r"Krum needs per_round > 2f \+ 2 = 10 \(got per_round=10\)"),
    ({"defense": "trimmed:5"}, r"needs per_round > 2 \* 5"),
    ({"defense": "bulyan"}, "bulyan"),
    ({"dataset": "femnist"}, "FEMNIST uses its natural 'writers' partition"),
    ({"dataset": "femnist", "partition": "writers", "train_subset": 100},
     "train_subset=100 does not apply to femnist"),
    ({"partition": "writers"}, "does not fit dataset 'fashion-mnist'"),
    ({"attack_rounds": "late:2"}, "late:F"),
    ({"per_round": 40}, "per_round=40 exceeds clients=30"),
])
def test_bad_config_is_refused_before_any_work(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        BackdoorRunConfig(**kwargs)


def test_attack_data_draws_only_the_named_classes():
    y = torch.arange(40) % 4
    x = torch.arange(40, dtype=torch.float32).view(40, 1, 1, 1)
    xs, ys = attack_data("classes:1,3", (x, y), 10, seed=0)
    assert len(ys) == 10 and set(ys.tolist()) <= {1, 3}
    assert torch.equal(ys, y[xs.view(-1).long()])  # images stay with their labels
    assert attack_data("own", (x, y), 10, seed=0) is None
    assert len(set(attack_data("iid", (x, y), 40, seed=0)[1].tolist())) == 4
    with pytest.raises(InvalidConfigError, match=r"classes \[7\] have no training samples"):
        attack_data("classes:7", (x, y), 5, seed=0)


def test_cli_bad_input_is_one_clear_line_and_writes_nothing(tmp_path):
    run = _cli("run", "--partition", "hi:2", "--out", str(tmp_path / "o"))
    assert run.returncode == 1
    assert run.stderr.startswith("carbide: error:") and "got 2.0" in run.stderr
    assert not (tmp_path / "o").exists()
    run = _cli("run", "--poison-placement", "middle", "--out", str(tmp_path / "o"))
    assert run.returncode == 2 and "spread" in run.stderr


@pytest.mark.data
def test_fashion_mnist_run_metrics(shared_root):
    cfg = BackdoorRunConfig(partition="hi:0.5", clients=6, per_round=3, rounds=2,
                            attackers=1, train_subset=300, test_subset=200, defense="foolsgold")
    metrics, rows, info = run_backdoor(cfg, root=shared_root, progress=False)
    assert {"main_acc", "asr", "rounds", "round_time_s"} <= set(metrics)
    assert metrics["rounds"] == 2 and len(rows) == 2
    assert abs(info["heterogeneity"]["hi_measured"] - 0.5) < 0.1
    assert all(r["attackers"] == 1 for r in rows)  # scheduled: the attacker is in every round
    assert info["train_samples"] == 300


@pytest.mark.slow
@pytest.mark.data
def test_run_command_writes_the_results_contract(tmp_path, shared_root):
    out = tmp_path / "run"
    run = _cli("run", "--dataset", "femnist", "--partition", "writers", "--clients", "5",
               "--per-round", "5", "--rounds", "2", "--attackers", "1", "--defense", "krum:1",
               "--attack-rounds", "late:0.5", "--poison-placement", "last", "--out", str(out),
               data=shared_root)
    assert run.returncode == 0, run.stderr
    res = read_results(out)
    for key in ("main_acc", "asr", "rounds", "round_time_s"):
        assert key in res["metrics"]
    assert [r["attack_active"] for r in res["rows"]] == [False, True]
    assert res["rows"][1]["attackers"] == 1
    assert (out / "rounds.png").is_file() and "krum" in (out / "report.md").read_text()
    json.dumps(res)


@pytest.mark.data
def test_femnist_test_subset_is_a_draw_of_the_pooled_writers_test_sets(shared_root):
    from carbide.federated.experiment import load_federated_data

    cfg = BackdoorRunConfig(dataset="femnist", partition="writers", clients=5, per_round=5,
                            test_subset=124)
    data = load_federated_data(cfg, shared_root)
    assert len(data.test[1]) == 124 and len(torch.unique(data.test[1])) == 62  # 2 per class
    full = load_federated_data(BackdoorRunConfig(dataset="femnist", partition="writers",
                                                 clients=5, per_round=5), shared_root)
    assert len(full.test[1]) == 1685 and len(data.clients) == len(full.clients) == 5

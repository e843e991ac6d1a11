import json

import numpy as np
import pytest
from click.testing import CliRunner

from carbide.nas.scale.cli import scalenas


@pytest.fixture()
def seg_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for d in ("images", "masks"):
        (tmp_path / "data" / d).mkdir(parents=True)
    for i in range(5):
        mask = np.zeros((32, 32), np.uint8)
        mask[8:24, 4 + i:20 + i] = 1 + i % 2
        img = rng.integers(0, 60, (32, 32, 3), np.uint8)
        img[mask > 0] = 200
        Image.fromarray(img).save(tmp_path / "data" / "images" / f"{i}.png")
        Image.fromarray(mask).save(tmp_path / "data" / "masks" / f"{i}.png")
    return tmp_path / "data"


def test_bad_budget_is_one_clear_error(tmp_path):
    res = CliRunner().invoke(scalenas, ["search", "--quick", "--flops-budget", "0.0001",
                                        "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "0.0001 G is below the smallest subnet" in str(res.exception)
    assert not (tmp_path / "o").exists()


def test_train_rejects_arch_outside_space(tmp_path, seg_folder):
    bad = tmp_path / "a.json"
    bad.write_text(json.dumps({"modules": [{"depths": [9, 1], "fusion": []}]}))
    res = CliRunner().invoke(scalenas, ["train", str(bad), "--quick", "--data",
                                        f"folder:{seg_folder}", "--num-classes", "3",
                                        "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "modules" in str(res.exception)


@pytest.mark.slow
def test_search_then_train_on_a_folder(tmp_path, seg_folder, monkeypatch):
    from carbide.nas.scale import QUICK_SEARCH, TrainConfig

    tiny = TrainConfig(steps=3, batch_size=4)
    for k, v in dict(supernet=tiny, hrnet=tiny, search_budget=4, population=2,
                     calib_images=8).items():
        monkeypatch.setitem(QUICK_SEARCH, k, v)
    out = tmp_path / "s"
    res = CliRunner().invoke(scalenas, [
        "search", "--task", "seg", "--data", f"folder:{seg_folder}", "--num-classes", "3",
        "--image-size", "32", "--quick", "--flops-budget", "0.006", "--out", str(out)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    front = json.loads((out / "pareto.json").read_text())
    assert front and all(set(f) == {"arch", "flops", "miou"} for f in front)
    assert all(f["flops"] <= 0.006e9 for f in front)
    m = json.loads((out / "results.json").read_text())["metrics"]
    assert {"best_miou", "best_flops", "hrnet_miou", "hrnet_flops"} <= set(m)
    assert 0 <= m["best_miou"] <= 100 and m["best_flops"] < m["hrnet_flops"]
    res = CliRunner().invoke(scalenas, [
        "train", str(out / "best_arch.json"), "--data", f"folder:{seg_folder}",
        "--num-classes", "3", "--image-size", "32", "--quick", "--steps", "3",
        "--out", str(tmp_path / "t")])
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert (tmp_path / "t" / "model.pt").is_file()

import json

import numpy as np
import pytest

from carbide.exceptions import InvalidConfigError
from carbide.nas.scale import ScaleNASConfig, ScaleSpace, TrainConfig, search_to_dir


def _coco(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    images, anns = [], []
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), np.uint8)).save(
            tmp_path / "images" / f"{i}.png")
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": 40, "height": 40})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                     "bbox": [8, 8, 20, 20], "area": 400, "num_keypoints": 2,
                     "keypoints": [12 + i, 12, 2, 20, 24, 2]})
    path = tmp_path / "ann.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [
        {"id": 1, "name": "thing", "keypoints": ["a", "b"]}]}))
    return path


def test_keypoint_search_on_coco_writes_ap_front(tmp_path):
    tiny = TrainConfig(steps=2, batch_size=2)
    cfg = ScaleNASConfig(task="keypoints", data=f"coco:{_coco(tmp_path)}", image_size=32,
                         space=ScaleSpace(width=4, depth_range=(1, 2)), supernet=tiny,
                         hrnet=tiny, search_budget=2, population=2, calib_images=2)
    result = search_to_dir(cfg, tmp_path / "out")
    front = json.loads((tmp_path / "out" / "pareto.json").read_text())
    assert front and all(set(f) == {"arch", "flops", "ap"} for f in front)
    m = result["metrics"]
    assert 0 <= m["best_ap"] <= 100 and m["hrnet_flops"] >= m["best_flops"] > 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(task="pose"), "unknown task"),
    (dict(data="imagenet"), "composed"),
    (dict(data="coco:x.json", task="seg"), "use --task keypoints"),
    (dict(data="folder:x"), "num_classes"),
    (dict(search_budget=2, population=4), "at least population"),
])
def test_config_errors_name_the_value(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        ScaleNASConfig(**kwargs)

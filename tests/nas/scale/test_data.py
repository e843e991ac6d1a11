import json

import numpy as np
import pytest
import torch

from carbide.exceptions import DatasetNotFoundError, InvalidConfigError
from carbide.nas.scale.data import (
    ComposedConfig,
    compose_dataset,
    keypoint_heatmaps,
    load_coco_keypoints,
    load_folder_segmentation,
)
from carbide.nas.scale.metrics import heatmap_keypoints

CFG = ComposedConfig(size=64, objects=(2, 3))


def test_composed_is_deterministic_and_labelled(fixture_root):
    a = compose_dataset(6, "train", CFG, seed=3, root=fixture_root, verify=False)
    b = compose_dataset(6, "train", CFG, seed=3, root=fixture_root, verify=False)
    c = compose_dataset(6, "train", CFG, seed=4, root=fixture_root, verify=False)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert not torch.equal(a.images, c.images)
    assert a.source == "composed" and a.num_classes == 21 and len(a.classes) == 21
    assert a.images.shape == (6, 3, 64, 64) and a.images.dtype == torch.uint8
    assert a.masks.shape == (6, 64, 64) and int(a.masks.max()) < 21
    assert (a.masks > 0).any(dim=(1, 2)).all()  # every canvas has an object
    k = a.keypoints
    assert k.shape == (6, 5, 3) and (k[..., 2] == 1).all()
    assert (k[..., :2] >= 0).all() and (k[..., :2] < 64).all()
    # centre inside its box; extreme points on the box border
    x0, y0, w, h = a.boxes.unbind(1)
    assert torch.allclose(k[:, 1, 1], y0) and torch.allclose(k[:, 3, 0], x0)
    assert torch.allclose(k[:, 2, 1], y0 + h - 1) and torch.allclose(k[:, 4, 0], x0 + w - 1)
    # the target is pasted last: its centre pixel region carries the target's class, never
    # background (objects are solid around their centroid in the fixture's random pixels)
    assert all(int(a.masks[i, int(k[i, 1, 1])].max()) > 0 for i in range(6))
    assert a.heatmaps.shape == (6, 5, 16, 16)


def test_splits_come_from_source_splits(fixture_root):
    tr = compose_dataset(4, "train", CFG, seed=0, root=fixture_root, verify=False)
    va = compose_dataset(4, "val", CFG, seed=0, root=fixture_root, verify=False)
    te = compose_dataset(4, "test", CFG, seed=0, root=fixture_root, verify=False)
    assert not torch.equal(tr.images, va.images) and not torch.equal(va.images, te.images)
    with pytest.raises(InvalidConfigError, match="unknown split"):
        compose_dataset(2, "dev", CFG, root=fixture_root, verify=False)


def test_config_errors():
    with pytest.raises(InvalidConfigError, match="multiple of 32"):
        ComposedConfig(size=70)
    with pytest.raises(InvalidConfigError, match="sources"):
        ComposedConfig(sources=("mnist",))


def test_heatmap_round_trip():
    kp = torch.tensor([[[9.5, 21.5, 1.0], [33.5, 5.5, 1.0], [0.0, 0.0, 0.0]]])
    maps = keypoint_heatmaps(kp, (16, 16), 4, 1.5)
    assert maps.shape == (1, 3, 16, 16) and float(maps[0, 2].abs().max()) == 0.0
    dec = heatmap_keypoints(maps)
    assert torch.allclose(dec[0, :2, :2], kp[0, :2, :2])


def _png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_folder_loader(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        _png(tmp_path / "images" / f"im{i}.png", rng.integers(0, 255, (32, 32, 3), np.uint8))
        _png(tmp_path / "masks" / f"im{i}.png", np.full((32, 32), i, np.uint8))
    ds = load_folder_segmentation(tmp_path, num_classes=3)
    assert ds.images.shape == (3, 3, 32, 32) and ds.masks[2].unique().tolist() == [2]
    assert ds.source.startswith("folder:")
    up = load_folder_segmentation(tmp_path, num_classes=3, size=64)
    assert up.masks.shape == (3, 64, 64) and set(up.masks.unique().tolist()) == {0, 1, 2}
    with pytest.raises(InvalidConfigError, match="class id 2, beyond num_classes=2"):
        load_folder_segmentation(tmp_path, num_classes=2)
    _png(tmp_path / "masks" / "im1.png", np.zeros((16, 32), np.uint8))
    with pytest.raises(InvalidConfigError, match="mask im1.png is 32x16 but image im1.png is "
                                                 "32x32"):
        load_folder_segmentation(tmp_path, num_classes=3)
    (tmp_path / "masks" / "im1.png").unlink()
    with pytest.raises(DatasetNotFoundError, match="has no mask"):
        load_folder_segmentation(tmp_path, num_classes=3)


def _coco(tmp_path, kp_x=20.0):
    rng = np.random.default_rng(0)
    _png(tmp_path / "images" / "a.png", rng.integers(0, 255, (48, 64, 3), np.uint8))
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
        "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "iscrowd": 0,
                         "bbox": [10, 10, 20, 20], "area": 400, "num_keypoints": 2,
                         "keypoints": [kp_x, 15, 2, 25, 25, 1, 0, 0, 0]}],
        "categories": [{"id": 1, "name": "thing", "keypoints": ["a", "b", "c"]}],
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_loader(tmp_path):
    ds = load_coco_keypoints(_coco(tmp_path), size=32)
    assert ds.images.shape == (1, 3, 32, 32) and ds.keypoint_names == ("a", "b", "c")
    k = ds.keypoints[0]
    # box (10,10,20,20) enlarged 1.25 -> side 25 around centre (20,20): crop from (7, 7)
    scale = 32 / 25
    assert torch.allclose(k[0, :2], torch.tensor([(20 - 7) * scale, (15 - 7) * scale]))
    assert torch.allclose(ds.boxes[0], torch.tensor([3 * scale, 3 * scale, 20 * scale,
                                                     20 * scale]))
    assert k[2].tolist() == [0.0, 0.0, 0.0]
    assert ds.heatmaps.shape == (1, 3, 8, 8)


def test_coco_keypoint_outside_image(tmp_path):
    with pytest.raises(InvalidConfigError, match=r"keypoint 0 at \(70, 15\) is outside image "
                                                 r"a.png \(64x48\)"):
        load_coco_keypoints(_coco(tmp_path, kp_x=70.0), size=32)

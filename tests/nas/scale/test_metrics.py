import pytest
import torch

from carbide.nas.scale.metrics import miou, oks_ap, pck


def test_miou_matches_torchmetrics_and_hand():
    from torchmetrics.classification import MulticlassJaccardIndex

    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (3, 16, 16), generator=g)
    pred = torch.where(torch.rand(3, 16, 16, generator=g) < 0.7, target,
                       torch.randint(0, 4, (3, 16, 16), generator=g))
    ref = MulticlassJaccardIndex(num_classes=4, average="macro")(pred, target)
    assert miou(pred, target, 4) == pytest.approx(float(ref) * 100, abs=1e-4)
    # a class absent from both prediction and target is not averaged
    assert miou(torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 2, dtype=torch.long),
                10) == 100.0
    t = torch.tensor([[[0, 1], [1, 1]]])
    p = torch.tensor([[[0, 0], [1, 1]]])
    assert miou(p, t, 2) == pytest.approx((1 / 2 + 2 / 3) / 2 * 100)


def test_pck_and_oks_ap():
    gt = torch.tensor([[[10.0, 10, 1], [20, 20, 1]], [[30, 30, 1], [5, 5, 1]]])
    boxes = torch.tensor([[0.0, 0, 30, 30], [0, 0, 40, 40]])
    assert pck(gt, gt, boxes) == 100.0
    assert oks_ap(gt, gt, boxes) == pytest.approx(100.0)
    far = gt.clone()
    far[..., :2] += 15
    assert pck(far, gt, boxes) == 0.0
    assert oks_ap(far, gt, boxes) == pytest.approx(0.0)
    near = gt.clone()
    near[..., 0] += 4  # within 0.2 * 30 = 6 px
    assert pck(near, gt, boxes) == 100.0
    assert 0.0 < oks_ap(near, gt, boxes) < 100.0


def test_missing_pycocotools_names_the_extra(monkeypatch):
    from carbide.exceptions import MissingDependencyError
    from tests.conftest import mask_module

    mask_module(monkeypatch, "pycocotools")
    gt = torch.tensor([[[10.0, 10, 1]]])
    with pytest.raises(MissingDependencyError, match=r'carbide\[scalenas\]'):
        oks_ap(gt, gt, torch.tensor([[0.0, 0, 20, 20]]))


def test_lean_import():
    import subprocess
    import sys

    code = ("import sys, carbide.nas.scale as s; s.__all__; "
            "print(any(m in sys.modules for m in ('torch', 'numpy', 'torchmetrics')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"

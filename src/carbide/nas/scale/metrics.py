"""Dense-prediction metrics: mIoU (torchmetrics), keypoint PCK and OKS-based AP (pycocotools).

Shapes: segmentation logits ``(N, C, H, W)`` or predicted ids ``(N, H, W)`` against masks
``(N, H, W)``; keypoints ``(N, K, 3)`` as ``(x, y, v_or_score)`` in image pixels; boxes
``(N, 4)`` as ``(x0, y0, w, h)``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np
import torch

from ..._imports import optional_import
from ...exceptions import InvalidConfigError

__all__ = ["confusion_matrix", "heatmap_keypoints", "miou", "miou_from_confusion", "oks_ap",
           "pck"]


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(C, C)`` counts, rows = target class, columns = predicted (torchmetrics)."""
    tm = optional_import("torchmetrics.functional.classification", "scalenas", purpose="mIoU")
    if pred.ndim == target.ndim + 1:
        pred = pred.argmax(1)
    if pred.shape != target.shape:
        raise InvalidConfigError(f"prediction shape {tuple(pred.shape)} != target shape "
                                 f"{tuple(target.shape)}")
    return tm.multiclass_confusion_matrix(pred.reshape(-1), target.reshape(-1),
                                          num_classes=num_classes)


def miou_from_confusion(conf: torch.Tensor) -> float:
    """Mean IoU in percent over the classes that occur in the target or the prediction
    (Cityscapes/VOC convention: a class absent from both is not averaged)."""
    conf = conf.double()
    tp = conf.diag()
    union = conf.sum(0) + conf.sum(1) - tp
    present = union > 0
    if not present.any():
        return float("nan")
    return float((tp[present] / union[present]).mean() * 100)


def miou(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """Mean IoU in percent (see :func:`miou_from_confusion`)."""
    return miou_from_confusion(confusion_matrix(pred, target, num_classes))


def heatmap_keypoints(heatmaps: torch.Tensor, stride: int = 4, subpixel: bool = True
                      ) -> torch.Tensor:
    """Argmax decoding: ``(N, K, h, w)`` -> ``(N, K, 3)`` ``(x, y, peak value)`` in image
    pixels (heatmap pixel ``u`` -> ``stride * u + (stride - 1) / 2``, the inverse of
    :func:`~carbide.nas.scale.data.keypoint_heatmaps`), with HRNet's quarter-pixel shift
    towards the higher neighbour (``subpixel=True``)."""
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, k, -1)
    score, idx = flat.max(-1)
    ys = torch.div(idx, w, rounding_mode="floor")
    xs = idx % w
    fx, fy = xs.float(), ys.float()
    if subpixel:
        hm = heatmaps.reshape(n * k, h, w)
        r = torch.arange(n * k)
        xr, yr = xs.reshape(-1), ys.reshape(-1)
        right = hm[r, yr, (xr + 1).clamp(max=w - 1)]
        left = hm[r, yr, (xr - 1).clamp(min=0)]
        down = hm[r, (yr + 1).clamp(max=h - 1), xr]
        up = hm[r, (yr - 1).clamp(min=0), xr]
        inner_x = (xr > 0) & (xr < w - 1)
        inner_y = (yr > 0) & (yr < h - 1)
        fx = fx + (0.25 * torch.sign(right - left) * inner_x).reshape(n, k)
        fy = fy + (0.25 * torch.sign(down - up) * inner_y).reshape(n, k)
    off = (stride - 1) / 2
    return torch.stack([fx * stride + off, fy * stride + off, score], dim=-1)


def pck(pred: torch.Tensor, gt: torch.Tensor, boxes: torch.Tensor, alpha: float = 0.2) -> float:
    """PCK@alpha in percent: labelled keypoints within ``alpha * max(box w, h)`` of the truth."""
    vis = gt[..., 2] > 0
    if not vis.any():
        return float("nan")
    dist = (pred[..., :2] - gt[..., :2]).norm(dim=-1)
    thr = alpha * boxes[:, 2:].max(dim=1).values[:, None]
    return float((dist <= thr)[vis].float().mean() * 100)


def oks_ap(pred: torch.Tensor, gt: torch.Tensor, boxes: torch.Tensor,
           sigmas: Sequence[float] | float = 0.1) -> float:
    """COCO keypoint AP in percent (OKS thresholds 0.50:0.95) with pycocotools' COCOeval.

    One ground-truth instance (its keypoints and box; area = box area) and one detection (score
    = mean peak value) per image, as in top-down evaluation with ground-truth boxes.

    Args:
        pred: ``(N, K, 3)`` predictions ``(x, y, score)``.
        gt: ``(N, K, 3)`` ground truth ``(x, y, v)``.
        boxes: ``(N, 4)`` ground-truth boxes.
        sigmas: per-keypoint OKS constants (COCO's are 0.025-0.107 for body joints; default
            0.1 for every keypoint).
    """
    coco_mod = optional_import("pycocotools.coco", "scalenas", purpose="OKS AP")
    eval_mod = optional_import("pycocotools.cocoeval", "scalenas", purpose="OKS AP")
    n, k, _ = gt.shape
    sig = np.full(k, float(sigmas)) if np.isscalar(sigmas) else np.asarray(sigmas, float)
    if sig.shape != (k,):
        raise InvalidConfigError(f"sigmas must have {k} values, got {len(sig)}")
    g = gt.detach().cpu().numpy().astype(float)
    p = pred.detach().cpu().numpy().astype(float)
    b = boxes.detach().cpu().numpy().astype(float)
    images, anns, dets = [], [], []
    for i in range(n):
        images.append({"id": i + 1, "width": 1, "height": 1})
        kp = g[i].copy()
        kp[:, 2] = np.where(kp[:, 2] > 0, 2, 0)
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                     "bbox": b[i].tolist(), "area": float(b[i, 2] * b[i, 3]),
                     "keypoints": kp.reshape(-1).tolist(),
                     "num_keypoints": int((kp[:, 2] > 0).sum())})
        dk = p[i].copy()
        score = float(dk[:, 2].mean())
        dk[:, 2] = 1
        dets.append({"image_id": i + 1, "category_id": 1, "keypoints": dk.reshape(-1).tolist(),
                     "score": score})
    with contextlib.redirect_stdout(io.StringIO()):
        coco = coco_mod.COCO()
        coco.dataset = {"images": images, "annotations": anns,
                        "categories": [{"id": 1, "name": "object"}]}
        coco.createIndex()
        res = coco.loadRes(dets)
        ev = eval_mod.COCOeval(coco, res, "keypoints")
        ev.params.kpt_oks_sigmas = sig
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0] * 100)

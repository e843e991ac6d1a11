"""Dense-prediction data: the composed multi-scale task and loaders for a user's own data.

**Composed** task (labelled "composed" everywhere; it is not Cityscapes or COCO): real
Fashion-MNIST and CIFAR-10 objects pasted onto a canvas at scales 0.5x-3x of a base size
(``size / 5``), several per canvas in occlusion order (later objects cover earlier ones).
Fashion-MNIST objects keep their silhouette (pixels above 15% of white); a CIFAR-10 image has
no object mask, so its whole (rescaled) patch is the object. Class ids (``labels="fine"``):
0 background, then 10 Fashion-MNIST classes, then 10 CIFAR-10 classes (for the sources chosen);
``labels="coarse"`` (what CPU-sized runs use, as 21 fine classes need far more training than
minutes) merges them into 0 background, 1 clothing (Fashion-MNIST 0, 1, 2, 3, 4, 6),
2 footwear (5, 7, 9), 3 bag (8), 4 vehicle (CIFAR-10 0, 1, 8, 9), 5 animal (2-7). The
background is smooth low-contrast noise.

Each canvas gives

* ``masks``: per-pixel class ids ``(H, W)`` (segmentation);
* ``keypoints``: for the *target* object -- the first one, placed near the centre and pasted
  last (on top), as in a COCO top-down person crop with other people around -- 5 keypoints
  ``(x, y, v)``: mask centroid, topmost, bottommost, leftmost, rightmost mask pixel;
  ``heatmaps`` ``(5, H/4, W/4)`` are Gaussians (``sigma`` in heatmap pixels) at them.

Splits come from the sources' own splits: ``train`` and ``val`` from disjoint parts of the
source train splits (the last ``val_fraction`` of each is val), ``test`` from the test splits.
Generation is deterministic in ``(seed, split)``.

User data: :func:`load_folder_segmentation` (``images/*.png|jpg`` + ``masks/<stem>.png``) and
:func:`load_coco_keypoints` (a COCO keypoint JSON through pycocotools, top-down crops).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..._validate import check_int, check_real
from ...exceptions import DatasetNotFoundError, InvalidConfigError

__all__ = [
    "KEYPOINT_NAMES",
    "ComposedConfig",
    "DenseDataset",
    "compose_dataset",
    "keypoint_heatmaps",
    "load_coco_keypoints",
    "load_folder_segmentation",
]

#: The composed task's keypoints, in channel order.
KEYPOINT_NAMES: tuple[str, ...] = ("centre", "top", "bottom", "left", "right")
_SOURCES = ("fashion-mnist", "cifar10")
_COARSE = {"fashion-mnist": (1, 1, 1, 1, 1, 2, 1, 2, 3, 2),
           "cifar10": (4, 4, 5, 5, 5, 5, 5, 5, 4, 4)}
_COARSE_NAMES = {"fashion-mnist": ("fmnist:clothing", "fmnist:footwear", "fmnist:bag"),
                 "cifar10": ("cifar:vehicle", "cifar:animal")}
_STRIDE = 4


@dataclass
class DenseDataset:
    """Images with segmentation masks and/or keypoint heatmaps.

    Attributes:
        images: uint8 ``(N, 3, H, W)``.
        masks: int64 ``(N, H, W)`` class ids in ``0..num_classes-1``, or ``None``.
        keypoints: float32 ``(N, K, 3)`` as ``(x, y, visible)`` in image pixels, or ``None``.
        boxes: float32 ``(N, 4)`` target boxes ``(x0, y0, w, h)`` (PCK/OKS scale), or ``None``.
        num_classes: segmentation classes, background included.
        classes: class names.
        keypoint_names: names of the K keypoints.
        source: ``"composed"``, ``"folder:<path>"`` or ``"coco:<path>"``.
        sigma: heatmap Gaussian sigma in heatmap pixels.
    """

    images: torch.Tensor
    masks: torch.Tensor | None
    keypoints: torch.Tensor | None
    boxes: torch.Tensor | None
    num_classes: int
    classes: tuple[str, ...]
    keypoint_names: tuple[str, ...] = KEYPOINT_NAMES
    source: str = "composed"
    sigma: float = 1.5
    _heatmaps: torch.Tensor | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[-2]), int(self.images.shape[-1])

    def float_images(self, idx=slice(None)) -> torch.Tensor:
        """Images as float ``(n, 3, H, W)``, normalized to zero mean / unit range."""
        return (self.images[idx].float() / 255.0 - 0.5) / 0.25

    @property
    def heatmaps(self) -> torch.Tensor:
        """Float ``(N, K, H/4, W/4)`` target heatmaps (computed once)."""
        if self.keypoints is None:
            raise InvalidConfigError(f"{self.source} data have no keypoints")
        if self._heatmaps is None:
            h, w = self.size
            self._heatmaps = keypoint_heatmaps(self.keypoints, (h // _STRIDE, w // _STRIDE),
                                               _STRIDE, self.sigma)
        return self._heatmaps

    def subset(self, idx) -> DenseDataset:
        """Rows ``idx`` (a slice, tensor or list)."""
        def pick(t):
            return None if t is None else t[idx]

        return DenseDataset(pick(self.images), pick(self.masks), pick(self.keypoints),
                            pick(self.boxes), self.num_classes, self.classes,
                            self.keypoint_names, self.source, self.sigma,
                            pick(self._heatmaps))


def keypoint_heatmaps(keypoints: torch.Tensor, out_size: tuple[int, int], stride: int,
                      sigma: float) -> torch.Tensor:
    """Gaussian heatmaps ``(N, K, h, w)`` for keypoints ``(N, K, 3)`` given in image pixels;
    invisible keypoints (``v == 0``) give all-zero maps. Heatmap pixel ``(u, v)`` covers image
    pixels centred at ``stride * u + (stride - 1) / 2``."""
    h, w = out_size
    ys = (torch.arange(h, dtype=torch.float32) * stride + (stride - 1) / 2)[:, None]
    xs = (torch.arange(w, dtype=torch.float32) * stride + (stride - 1) / 2)[None, :]
    kx = keypoints[..., 0][..., None, None]
    ky = keypoints[..., 1][..., None, None]
    s2 = 2 * (sigma * stride) ** 2
    maps = torch.exp(-((xs - kx) ** 2 + (ys - ky) ** 2) / s2)
    return maps * (keypoints[..., 2] > 0).float()[..., None, None]


@dataclass(frozen=True)
class ComposedConfig:
    """The composed multi-scale task.

    Args:
        size: canvas side (multiple of 32; 64 quick, 96 full).
        objects: ``(min, max)`` objects per canvas.
        scale: ``(min, max)`` scale of an object relative to the base side ``size / 5``
            (default 0.5x-3x).
        sources: ``"fashion-mnist"`` and/or ``"cifar10"``.
        sigma: heatmap sigma in heatmap pixels (stride 4).
        val_fraction: share of each source's train split kept for validation.
        labels: ``"fine"`` (10 classes per source) or ``"coarse"`` (see the module docstring).
    """

    size: int = 96
    objects: tuple[int, int] = (2, 4)
    scale: tuple[float, float] = (0.5, 3.0)
    sources: tuple[str, ...] = _SOURCES
    sigma: float = 1.5
    val_fraction: float = 0.1
    labels: str = "fine"

    def __post_init__(self) -> None:
        check_int("size", self.size, 32)
        if self.size % 32:
            raise InvalidConfigError(f"size must be a multiple of 32, got {self.size}")
        lo, hi = self.objects
        check_int("objects[0]", lo, 1)
        check_int("objects[1]", hi, lo)
        s0 = check_real("scale[0]", self.scale[0], 0.0, 10.0, lo_open=True)
        check_real("scale[1]", self.scale[1], s0, 10.0)
        if self.size / 5 * self.scale[1] > self.size:
            raise InvalidConfigError(f"scale {self.scale} makes objects larger than the canvas")
        if not self.sources or any(s not in _SOURCES for s in self.sources):
            raise InvalidConfigError(
                f"sources must be a non-empty subset of {_SOURCES}, got {self.sources!r}")
        check_real("sigma", self.sigma, 0.0, 100.0, lo_open=True)
        check_real("val_fraction", self.val_fraction, 0.0, 0.5, lo_open=True)
        if self.labels not in ("fine", "coarse"):
            raise InvalidConfigError(f"labels must be 'fine' or 'coarse', got {self.labels!r}")

    @property
    def class_names(self) -> tuple[str, ...]:
        """Names by class id (background first)."""
        from ...datasets.cifar10 import CIFAR10_CLASSES
        from ...datasets.fashion_mnist import FASHION_MNIST_CLASSES

        names = ["background"]
        for src in _SOURCES:
            if src in self.sources:
                if self.labels == "coarse":
                    names += _COARSE_NAMES[src]
                else:
                    fine = FASHION_MNIST_CLASSES if src == "fashion-mnist" else CIFAR10_CLASSES
                    prefix = "fmnist" if src == "fashion-mnist" else "cifar"
                    names += [f"{prefix}:{c}" for c in fine]
        return tuple(names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_id(self, source: int, label: int) -> int:
        """Class id of ``label`` from the ``source``-th of :attr:`sources`."""
        if self.labels == "fine":
            return 1 + 10 * source + label
        name = self.sources[source]
        offset = sum(len(_COARSE_NAMES[s]) for s in self.sources[:source])
        first = min(_COARSE[name])
        return 1 + offset + _COARSE[name][label] - first


def _source_pool(cfg: ComposedConfig, split: str, root, verify: bool
                 ) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """Per source: (uint8 images (n, C, h, w), labels, has_silhouette), for the split."""
    from ...datasets import load_cifar10, load_fashion_mnist

    pools = []
    src_split = "test" if split == "test" else "train"
    for name in cfg.sources:
        loader = load_fashion_mnist if name == "fashion-mnist" else load_cifar10
        ds = loader(src_split, root, verify=verify)
        images, labels = ds.images, ds.labels
        if split != "test":
            # a fixed, seed-independent interleaved split (CIFAR's files are ordered by class)
            n_val = max(1, int(round(len(labels) * cfg.val_fraction)))
            stride = max(1, len(labels) // n_val)
            is_val = torch.zeros(len(labels), dtype=torch.bool)
            is_val[::stride] = True
            keep = is_val if split == "val" else ~is_val
            images, labels = images[keep], labels[keep]
        pools.append((images, labels, name == "fashion-mnist"))
    return pools


def compose_dataset(n: int, split: str = "train", config: ComposedConfig | None = None, *,
                    seed: int = 0, root: str | os.PathLike[str] | None = None,
                    verify: bool = True) -> DenseDataset:
    """Generate ``n`` composed canvases of ``split`` (see the module docstring).

    Args:
        n: canvases.
        split: ``"train"``, ``"val"`` or ``"test"``.
        config: the task (default :class:`ComposedConfig`).
        seed: generation seed (with ``split``, fixes every canvas).
        root: data root with ``fashion-mnist/`` and ``cifar10/``.
        verify: check the source files' checksums.

    Returns:
        A :class:`DenseDataset` with masks, target keypoints and boxes, ``source="composed"``.
    """
    cfg = config or ComposedConfig()
    check_int("n", n, 1)
    splits = ("train", "val", "test")
    if split not in splits:
        raise InvalidConfigError(f"unknown split {split!r}; choose one of {splits}")
    pools = _source_pool(cfg, split, root, verify)
    rng = np.random.default_rng([seed, splits.index(split), 2011_14584])
    size = cfg.size
    base = size / 5
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    masks = np.zeros((n, size, size), dtype=np.int64)
    kps = np.zeros((n, len(KEYPOINT_NAMES), 3), dtype=np.float32)
    boxes = np.zeros((n, 4), dtype=np.float32)
    for i in range(n):
        # smooth background: low-res noise upsampled
        low = torch.from_numpy(rng.uniform(40, 110, size=(1, 3, 4, 4)).astype(np.float32))
        canvas = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)[0]
        label_map = torch.zeros(size, size, dtype=torch.int64)
        k = int(rng.integers(cfg.objects[0], cfg.objects[1] + 1))
        placed = []
        for j in range(k):
            s = int(rng.integers(len(pools)))
            imgs, labels, silhouette = pools[s]
            idx = int(rng.integers(len(labels)))
            side = max(4, int(round(base * rng.uniform(*cfg.scale))))
            side = min(side, size)
            if j == 0:  # the target: near the centre
                c = size / 2 + rng.uniform(-size / 10, size / 10, size=2)
                x0 = int(np.clip(round(c[0] - side / 2), 0, size - side))
                y0 = int(np.clip(round(c[1] - side / 2), 0, size - side))
            else:
                x0 = int(rng.integers(0, size - side + 1))
                y0 = int(rng.integers(0, size - side + 1))
            patch = imgs[idx].float()[None]
            patch = F.interpolate(patch, size=(side, side), mode="bilinear",
                                  align_corners=False, antialias=True)[0]
            if patch.shape[0] == 1:
                patch = patch.expand(3, -1, -1)
            if silhouette:
                obj = patch.mean(0) > 0.15 * 255
            else:
                obj = torch.ones(side, side, dtype=torch.bool)
            if not obj.any():
                obj = torch.ones(side, side, dtype=torch.bool)
            cls = cfg.class_id(s, int(labels[idx]))
            placed.append((x0, y0, side, patch, obj, cls))
        # occlusion order: distractors first, the target last (on top)
        for x0, y0, side, patch, obj, cls in placed[1:] + placed[:1]:
            region = canvas[:, y0:y0 + side, x0:x0 + side]
            canvas[:, y0:y0 + side, x0:x0 + side] = torch.where(obj, patch, region)
            lm = label_map[y0:y0 + side, x0:x0 + side]
            lm[obj] = cls
        x0, y0, side, _, obj, _ = placed[0]
        ys, xs = torch.nonzero(obj, as_tuple=True)
        ys = ys.float() + y0
        xs = xs.float() + x0
        pts = [(xs.mean(), ys.mean())]
        for sel in (ys == ys.min(), ys == ys.max()):  # top, bottom: mean column of that row
            pts.append((xs[sel].mean(), ys[sel][0]))
        for sel in (xs == xs.min(), xs == xs.max()):  # left, right
            pts.append((xs[sel][0], ys[sel].mean()))
        kps[i, :, 0] = [float(p[0]) for p in pts]
        kps[i, :, 1] = [float(p[1]) for p in pts]
        kps[i, :, 2] = 1.0
        boxes[i] = (float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
                    float(ys.max() - ys.min() + 1))
        images[i] = canvas.round().clamp(0, 255).to(torch.uint8).numpy()
        masks[i] = label_map.numpy()
    return DenseDataset(torch.from_numpy(images), torch.from_numpy(masks), torch.from_numpy(kps),
                        torch.from_numpy(boxes), cfg.num_classes, cfg.class_names,
                        KEYPOINT_NAMES, "composed", cfg.sigma)


def _read_image(path: Path, size: int | None, mode: str):
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert(mode) if mode == "RGB" else im.copy()
    if size is not None and im.size != (size, size):
        im = im.resize((size, size), Image.BILINEAR if mode == "RGB" else Image.NEAREST)
    return np.asarray(im)


def load_folder_segmentation(path: str | os.PathLike[str], num_classes: int, *,
                             size: int | None = None) -> DenseDataset:
    """A user's segmentation data: ``path/images/<name>.(png|jpg|jpeg)`` with
    ``path/masks/<name>.png`` holding class ids (single channel, 0 = background).

    Args:
        path: the folder.
        num_classes: classes including background; every mask value must be below it.
        size: resize images (bilinear) and masks (nearest) to ``size x size`` (a multiple of
            32); ``None``: keep sizes, which must then be equal and multiples of 32.

    Raises:
        DatasetNotFoundError: no ``images/`` folder, no images, or an image without its mask.
        InvalidConfigError: a mask whose size differs from its image, a class id
            ``>= num_classes``, or sizes that differ or are not multiples of 32.
    """
    root = Path(path)
    check_int("num_classes", num_classes, 2)
    img_dir, mask_dir = root / "images", root / "masks"
    if not img_dir.is_dir():
        raise DatasetNotFoundError(f"{img_dir} not found: a segmentation folder holds images/ "
                                   "and masks/ (PNG class-id masks with the same names)")
    files = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not files:
        raise DatasetNotFoundError(f"no .png/.jpg images in {img_dir}")
    images, masks = [], []
    for p in files:
        mpath = mask_dir / (p.stem + ".png")
        if not mpath.is_file():
            raise DatasetNotFoundError(f"image {p.name} has no mask {mpath}")
        img = _read_image(p, None, "RGB")
        mask = _read_image(mpath, None, "L")
        if mask.ndim != 2:
            raise InvalidConfigError(f"mask {mpath} must be single-channel, got shape "
                                     f"{mask.shape}")
        if mask.shape != img.shape[:2]:
            raise InvalidConfigError(
                f"mask {mpath.name} is {mask.shape[1]}x{mask.shape[0]} but image {p.name} is "
                f"{img.shape[1]}x{img.shape[0]}: masks must match their images")
        top = int(mask.max())
        if top >= num_classes:
            raise InvalidConfigError(
                f"mask {mpath.name} has class id {top}, beyond num_classes={num_classes} "
                f"(ids must be 0..{num_classes - 1}); raise num_classes or fix the mask")
        if size is not None:
            img = _read_image(p, size, "RGB")
            mask = _read_image(mpath, size, "L")
        images.append(img)
        masks.append(mask)
    shapes = {m.shape for m in masks}
    if len(shapes) != 1:
        raise InvalidConfigError(f"images have different sizes {sorted(shapes)}; pass size=")
    (h, w), = shapes
    if h % 32 or w % 32:
        raise InvalidConfigError(f"image size {w}x{h} is not a multiple of 32; pass size= "
                                 "(e.g. 64 or 96)")
    imgs = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return DenseDataset(imgs, torch.from_numpy(np.stack(masks).astype(np.int64)), None, None,
                        int(num_classes), ("background",) + tuple(
                            f"class{c}" for c in range(1, num_classes)),
                        (), f"folder:{root}")


def load_coco_keypoints(annotations: str | os.PathLike[str], *, image_dir=None,
                        size: int = 64, sigma: float = 1.5, enlarge: float = 1.25
                        ) -> DenseDataset:
    """A COCO keypoint annotation file as top-down crops (the COCO top-down protocol).

    Each annotation with at least one labelled keypoint becomes one sample: its box enlarged by
    ``enlarge`` (squared around the centre) is cropped and resized to ``size x size``;
    keypoints are mapped into the crop (``v = 0`` stays unlabelled).

    Args:
        annotations: COCO JSON with ``images``, ``annotations`` (``keypoints``, ``bbox``) and
            ``categories`` (``keypoints`` names).
        image_dir: folder of the image files (default: ``images/`` beside the JSON, else the
            JSON's folder).
        size: crop side (multiple of 32).
        sigma: heatmap sigma (heatmap pixels).
        enlarge: box enlargement.

    Raises:
        DatasetNotFoundError: the JSON or an image file is missing.
        InvalidConfigError: a labelled keypoint outside its image, or no usable annotation.
    """
    import contextlib
    import io

    from ..._imports import optional_import

    coco_mod = optional_import("pycocotools.coco", "scalenas", purpose="COCO keypoint loading")
    ann_path = Path(annotations)
    if not ann_path.is_file():
        raise DatasetNotFoundError(f"COCO annotation file not found: {ann_path}")
    check_int("size", size, 32)
    if size % 32:
        raise InvalidConfigError(f"size must be a multiple of 32, got {size}")
    if image_dir is None:
        image_dir = ann_path.parent / "images"
        if not image_dir.is_dir():
            image_dir = ann_path.parent
    image_dir = Path(image_dir)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = coco_mod.COCO(str(ann_path))
    cats = coco.loadCats(coco.getCatIds())
    names = tuple(cats[0].get("keypoints", ())) if cats else ()
    from PIL import Image

    images, kps, boxes = [], [], []
    for img_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(img_id)[0]
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=img_id, iscrowd=False))
                if a.get("num_keypoints", 0) > 0 or any(a.get("keypoints", [])[2::3])]
        if not anns:
            continue
        ipath = image_dir / info["file_name"]
        if not ipath.is_file():
            raise DatasetNotFoundError(f"image {ipath} (id {img_id}) not found")
        with Image.open(ipath) as im:
            im = im.convert("RGB")
        W, H = im.size
        for a in anns:
            k = np.asarray(a["keypoints"], dtype=np.float32).reshape(-1, 3)
            lab = k[:, 2] > 0
            bad = lab & ((k[:, 0] < 0) | (k[:, 0] >= W) | (k[:, 1] < 0) | (k[:, 1] >= H))
            if bad.any():
                j = int(np.argmax(bad))
                raise InvalidConfigError(
                    f"annotation {a.get('id')} keypoint {j} at ({k[j, 0]:g}, {k[j, 1]:g}) is "
                    f"outside image {info['file_name']} ({W}x{H})")
            x, y, w, h = a["bbox"]
            cx, cy = x + w / 2, y + h / 2
            side = int(np.ceil(max(w, h, 1.0) * enlarge))
            x0, y0 = int(np.floor(cx - side / 2)), int(np.floor(cy - side / 2))
            crop = im.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.BILINEAR)
            scale = size / side
            kk = k.copy()
            kk[:, 0] = (k[:, 0] - x0) * scale
            kk[:, 1] = (k[:, 1] - y0) * scale
            kk[~lab] = 0
            images.append(np.asarray(crop))
            kps.append(kk)
            boxes.append(((x - x0) * scale, (y - y0) * scale, w * scale, h * scale))
    if not images:
        raise InvalidConfigError(f"{ann_path} has no annotation with labelled keypoints")
    imgs = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    nk = kps[0].shape[0]
    return DenseDataset(imgs, None, torch.from_numpy(np.stack(kps)),
                        torch.tensor(boxes, dtype=torch.float32), 0, (),
                        names or tuple(f"kp{j}" for j in range(nk)), f"coco:{ann_path}",
                        float(sigma))

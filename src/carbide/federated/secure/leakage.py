"""Leakage tests of the information barrier: statistical and a real attack.

(a) what an inner aggregator sees (a partial sum over fewer than all enclaves) and (b) one
masked update should be indistinguishable from uniform integers mod ``2^bits``: a chi-square
test on their byte values (pooled over repeated rounds) should not reject (p > 0.01), and
their correlation with the true (unmasked) partial sum should be near 0. (c) The negative
control: with masking off the same tests see the encoded updates, whose bytes are far from
uniform (small values: high bytes 0x00 / 0xFF) and perfectly correlated with the truth.
(d) iDLG-style label inference (Zhao et al., 2020, arXiv 2001.02610): from one single-image
update the label is the row of the last layer's weight update with the largest sum (the
softmax-minus-one-hot gradient is negative only at the true label, and ReLU features are
non-negative); from the masked update it is at chance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _fixed
from .aggregate import aggregation_tree, mask_round, tree_sum

__all__ = ["byte_chi2_pvalue", "idlg_label", "label_inference", "leakage_tests",
           "view_correlation"]


def byte_chi2_pvalue(vectors: Sequence[np.ndarray]) -> float:
    """Chi-square goodness-of-fit p-value of the pooled byte values of ``vectors`` against
    the uniform distribution on 0..255."""
    from scipy.stats import chisquare

    counts = np.zeros(256, dtype=np.int64)
    for v in vectors:
        counts += np.bincount(np.ascontiguousarray(v).view(np.uint8), minlength=256)
    return float(chisquare(counts).pvalue)


def _signed(v: np.ndarray, bits: int) -> np.ndarray:
    return v.view(np.int32 if bits == 32 else np.int64).astype(np.float64)


def view_correlation(views: Sequence[np.ndarray], truths: Sequence[np.ndarray],
                     bits: int) -> float:
    """Pearson correlation between what a party sees and the true (unmasked) vectors, both
    read as signed fixed-point integers, pooled over rounds."""
    a = np.concatenate([_signed(v, bits) for v in views])
    b = np.concatenate([_signed(t, bits) for t in truths])
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def leakage_tests(updates_per_round: Sequence[Any], *, fan_in: int = 2,
                  scheme: str = "pairwise", bits: int = 32, clip: float = 1.0,
                  seed: int | None = 0) -> dict[str, float]:
    """Tests (a)-(c) over repeated rounds.

    Args:
        updates_per_round: one float ``(n, d)`` update matrix per round (``n >= 3``, so that
            the first inner aggregator sees fewer than all enclaves when ``fan_in < n``).

    Returns:
        ``{"partial_p", "partial_corr", "single_p", "single_corr"}`` with masking, and the
        same with prefix ``control_`` with masking off (the negative control).
    """
    out: dict[str, float] = {}
    for masking, prefix in ((True, ""), (False, "control_")):
        partial_views, partial_truth, single_views, single_truth = [], [], [], []
        for r, updates in enumerate(updates_per_round):
            mr = mask_round(updates, None, scheme=scheme, bits=bits, clip=clip,
                            seed=None if seed is None else seed + 7919 * r, round_index=r,
                            masking=masking)
            n = mr.masked.shape[0]
            first = aggregation_tree(n, fan_in)[0][0]  # inner node 0: its children
            if len(first) >= n:
                raise ValueError(f"fan_in={fan_in} >= n={n}: no inner aggregator sees a "
                                 "partial sum; use fan_in < n")
            _, partials = tree_sum(mr.masked, fan_in)
            partial_views.append(partials[0][0])
            partial_truth.append(mr.encoded[first].sum(axis=0, dtype=mr.encoded.dtype))
            single_views.append(mr.masked[0])
            single_truth.append(mr.encoded[0])
        out[f"{prefix}partial_p"] = byte_chi2_pvalue(partial_views)
        out[f"{prefix}partial_corr"] = view_correlation(partial_views, partial_truth, bits)
        out[f"{prefix}single_p"] = byte_chi2_pvalue(single_views)
        out[f"{prefix}single_corr"] = view_correlation(single_views, single_truth, bits)
    return out


def idlg_label(update: np.ndarray, num_classes: int, last_weight_offset: int,
               last_weight_numel: int) -> int:
    """iDLG's label for a single-image update (local state minus global state): the class
    whose row of the last layer's weight update has the largest sum (the update is minus the
    gradient, which is negative only at the true label)."""
    w = np.asarray(update[last_weight_offset:last_weight_offset + last_weight_numel],
                   dtype=np.float64).reshape(num_classes, -1)
    return int(np.argmax(w.sum(axis=1)))


def label_inference(model_fn: Callable[[], Any], images: Any, labels: Any, *,
                    scheme: str = "pairwise", bits: int = 32, clip: float = 1.0,
                    lr: float = 0.1, peers: int = 2, seed: int = 0) -> dict[str, float]:
    """Test (d): infer each image's label from one enclave's single-image update, unmasked
    and as it leaves the enclave (masked, with ``peers`` other enclaves in the round).

    Args:
        model_fn: model factory whose last ``nn.Linear`` is the class layer.
        images: ``(m, C, H, W)``; labels: ``(m,)``: one round per image.

    Returns:
        ``{"unmasked_acc", "masked_acc", "chance", "images"}``.
    """
    import torch
    from torch import nn

    from ..client import state_tensors

    torch.manual_seed(seed)
    model = model_fn()
    tensors = state_tensors(model)
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    offset = 0
    for t in tensors:
        if t is last.weight:
            break
        offset += t.numel()
    num_classes = last.out_features
    hits_plain = hits_masked = 0
    gen = torch.Generator().manual_seed(seed)
    for i in range(len(labels)):
        model.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(images[i:i + 1]), labels[i:i + 1])
        loss.backward()
        grad = torch.cat([(t.grad if t.grad is not None else torch.zeros_like(t)).reshape(-1)
                          for t in tensors])
        update = (-lr * grad).numpy()
        others = [(torch.randn(update.shape[0], generator=gen) * 1e-3).numpy()
                  for _ in range(peers)]
        mr = mask_round(np.stack([update, *others]), None, scheme=scheme, bits=bits,
                        clip=clip, seed=seed * 100_003 + i, round_index=i)
        seen_plain = _fixed.decode(mr.encoded[0], clip=clip, bits=bits)
        seen_masked = _fixed.decode(mr.masked[0], clip=clip, bits=bits)
        y = int(labels[i])
        hits_plain += idlg_label(seen_plain, num_classes, offset, last.weight.numel()) == y
        hits_masked += idlg_label(seen_masked, num_classes, offset, last.weight.numel()) == y
    m = len(labels)
    return {"unmasked_acc": hits_plain / m, "masked_acc": hits_masked / m,
            "chance": 1.0 / num_classes, "images": m}

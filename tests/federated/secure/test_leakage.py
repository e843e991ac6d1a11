"""Leakage tests (a)-(c) with the negative control, and (d) iDLG label inference."""

from __future__ import annotations

import torch

from carbide.federated import ModelSpec
from carbide.federated.secure.leakage import label_inference, leakage_tests


def _rounds(r=6, n=4, d=2000):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(n, d, generator=g) * 0.01 for _ in range(r)]


def test_masked_views_look_uniform_and_the_control_leaks():
    for scheme in ("pairwise", "admin"):
        res = leakage_tests(_rounds(), fan_in=2, scheme=scheme, seed=1)
        # (a) inner aggregator's partial sum, (b) one masked update
        assert res["partial_p"] > 0.01 and res["single_p"] > 0.01
        assert abs(res["partial_corr"]) < 0.05 and abs(res["single_corr"]) < 0.05
        # (c) negative control: with masking off the same tests detect the leak
        assert res["control_partial_p"] < 1e-6 and res["control_single_p"] < 1e-6
        assert res["control_partial_corr"] > 0.99 and res["control_single_corr"] > 0.99


def test_idlg_label_inference_unmasked_succeeds_masked_at_chance():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(30, 1, 28, 28, generator=g)
    labels = torch.randint(0, 10, (30,), generator=g)
    res = label_inference(ModelSpec("small-cnn", hidden=32), images, labels, seed=0)
    assert res["unmasked_acc"] == 1.0
    assert res["masked_acc"] <= 0.35  # chance is 0.1; 30 draws

import math

import pytest
import torch
from torch import nn

from carbide.compression.lowrank import (
    SVDRegularizer,
    decompose,
    orthogonality_loss,
    sparsity_loss,
)
from carbide.exceptions import InvalidConfigError


def test_orthogonality_loss_is_zero_for_orthonormal_columns():
    q = torch.linalg.qr(torch.randn(10, 4, generator=torch.Generator().manual_seed(0)))[0]
    assert float(orthogonality_loss(q)) == pytest.approx(0.0, abs=1e-10)


def test_orthogonality_loss_hand_value():
    m = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # M^T M = diag(4, 2)
    assert float(orthogonality_loss(m)) == pytest.approx((3.0**2 + 1.0**2) / 4)


@pytest.mark.parametrize(("kind", "value"), [
    ("l1", 7.0), ("hoyer", 7.0 / 5.0), ("hoyer2", 49.0 / 25.0), ("none", 0.0)])
def test_sparsity_formulas(kind, value):
    s = torch.tensor([3.0, -4.0])
    assert float(sparsity_loss(s, kind)) == pytest.approx(value)


def test_hoyer_is_scale_invariant_and_smallest_when_sparse():
    s = torch.tensor([1.0, 2.0, 3.0])
    assert float(sparsity_loss(10 * s, "hoyer")) == pytest.approx(float(sparsity_loss(s, "hoyer")))
    assert float(sparsity_loss(torch.tensor([5.0, 0, 0]), "hoyer")) == pytest.approx(1.0)
    assert float(sparsity_loss(torch.ones(4), "hoyer")) == pytest.approx(2.0)


def test_unknown_sparsity_lists_the_choices():
    with pytest.raises(InvalidConfigError, match="unknown sparsity 'l2'.*hoyer, l1, hoyer2"):
        sparsity_loss(torch.ones(2), "l2")
    with pytest.raises(InvalidConfigError, match="unknown sparsity"):
        SVDRegularizer("l2")


@pytest.mark.parametrize("field", ["strength", "orth"])
def test_negative_weights_are_rejected(field):
    with pytest.raises(InvalidConfigError, match=f"{field}.*-0.5"):
        SVDRegularizer("hoyer", **{field: -0.5})


def test_regularizer_sums_layers_with_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3))
    decompose(model)
    layers = [model[0], model[1]]
    with torch.no_grad():
        layers[0].U.mul_(2.0)  # make U non-orthogonal so the orthogonality term is > 0
    total, parts = SVDRegularizer("l1", strength=0.5, orth=2.0)(model)
    orth = sum(float((orthogonality_loss(m.U) + orthogonality_loss(m.V)).detach()) for m in layers)
    l1 = sum(float(m.s.detach().abs().sum()) for m in layers)
    assert parts["orth"] == pytest.approx(orth) and orth > 0.1
    assert parts["sparsity"] == pytest.approx(l1)
    assert float(total.detach()) == pytest.approx(2.0 * orth + 0.5 * l1)
    total.backward()
    assert layers[0].U.grad is not None and layers[0].s.grad is not None


def test_hoyer_gradient_pushes_small_singular_values_down():
    s = torch.tensor([5.0, 1.0, 0.5], requires_grad=True)
    sparsity_loss(s, "hoyer").backward()
    assert s.grad[1] > 0 and s.grad[2] > 0 and s.grad[0] < 0
    assert math.isfinite(float(sparsity_loss(torch.zeros(3), "hoyer")))


def test_regularizer_needs_svd_layers():
    with pytest.raises(InvalidConfigError, match="no SVD layers"):
        SVDRegularizer()(nn.Sequential(nn.Linear(2, 2)))

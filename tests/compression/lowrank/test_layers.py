import pytest
import torch
from torch import nn

from carbide.compression.lowrank import (
    SVDConv2d,
    SVDLinear,
    compact,
    decompose,
    svd_layers,
)
from carbide.exceptions import InvalidConfigError

GEOMETRIES = [
    {"stride": 1, "padding": 1},
    {"stride": 2, "padding": 1},
    {"stride": (2, 1), "padding": (0, 2), "dilation": (1, 2)},
    {"stride": 1, "padding": 1, "padding_mode": "reflect"},
]


@pytest.mark.parametrize("mode", ["channel", "spatial"])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_svd_init_reproduces_the_conv(mode, geometry):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(5, 7, (3, 3), **geometry).double())
    x = torch.randn(2, 5, 11, 12, dtype=torch.float64)
    ref = model(x)
    report = decompose(model, mode=mode, init="svd")
    assert report.decomposed == ["0"] and isinstance(model[0], SVDConv2d)
    assert torch.allclose(model(x), ref, atol=1e-12)
    assert torch.allclose(model[0].to_dense_layers()(x), ref, atol=1e-12)
    assert torch.allclose(model[0].to_dense()(x), ref, atol=1e-12)


def test_rank_is_min_of_the_reshaped_weight():
    conv = nn.Conv2d(4, 32, (3, 5))
    assert SVDConv2d(conv, mode="channel").rank == min(32, 4 * 3 * 5)
    assert SVDConv2d(conv, mode="spatial").rank == min(4 * 3, 32 * 5)


def test_svd_init_reproduces_the_linear():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4).double(), nn.ReLU(), nn.Linear(4, 3).double())
    x = torch.randn(5, 6, dtype=torch.float64)
    ref = model(x)
    decompose(model)
    assert isinstance(model[0], SVDLinear) and isinstance(model[2], SVDLinear)
    assert torch.allclose(model(x), ref, atol=1e-12)


def test_random_init_keeps_the_spectrum_with_orthonormal_factors():
    torch.manual_seed(0)
    lin = nn.Linear(8, 5)
    s_ref = torch.linalg.svdvals(lin.weight.detach())
    model = nn.Sequential(lin)
    decompose(model, init="random", seed=3)
    layer = model[0]
    assert torch.allclose(layer.s.detach(), s_ref, atol=1e-5)
    eye = torch.eye(5)
    assert torch.allclose(layer.U.T @ layer.U, eye, atol=1e-5)
    assert torch.allclose(layer.V.T @ layer.V, eye, atol=1e-5)
    assert not torch.allclose(layer.matrix(), lin.weight, atol=1e-2)


def test_skipped_layers_are_listed_with_reasons():
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, groups=2),          # grouped
        nn.Conv2d(8, 8, 3, groups=8),          # depthwise
        nn.Conv2d(8, 16, 3),                   # decomposed
        nn.Flatten(),
        nn.Linear(16, 1),                      # rank 1 < min_rank
        nn.Linear(1, 4),
    )
    report = decompose(model, filter_fn=lambda name, m: name != "5")
    assert report.decomposed == ["2"]
    assert "grouped" in report.skipped["0"]
    assert "depthwise" in report.skipped["1"]
    assert "min_rank" in report.skipped["4"]
    assert report.skipped["5"] == "excluded by filter_fn"
    assert "skipped 0" in str(report)
    assert list(svd_layers(model)) == ["2"]


def test_decomposing_twice_lists_the_svd_layers_as_skipped():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    decompose(model, filter_fn=lambda n, m: n == "0")
    report = decompose(model)
    assert report.decomposed == ["1"]
    assert report.skipped["0"] == "already in SVD form"


def test_nothing_to_decompose_is_an_error_naming_why():
    with pytest.raises(InvalidConfigError, match="nothing to decompose.*no nn.Conv2d"):
        decompose(nn.Sequential(nn.ReLU()))
    with pytest.raises(InvalidConfigError, match="nothing to decompose.*depthwise"):
        decompose(nn.Sequential(nn.Conv2d(4, 4, 3, groups=4)))


def test_bad_arguments_name_the_choices():
    model = nn.Sequential(nn.Linear(4, 4))
    with pytest.raises(InvalidConfigError, match="unknown mode 'rows'.*channel, spatial"):
        decompose(model, mode="rows")
    with pytest.raises(InvalidConfigError, match="unknown init 'zeros'.*svd, random"):
        decompose(model, init="zeros")
    with pytest.raises(InvalidConfigError, match="bare Linear"):
        decompose(nn.Linear(4, 4))


def test_string_padding_is_skipped_in_spatial_mode_and_works_in_channel_mode():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 6, 3, padding="same").double()
    x = torch.randn(1, 3, 7, 7, dtype=torch.float64)
    ref = conv(x)
    with pytest.raises(InvalidConfigError, match="padding='same'"):
        decompose(nn.Sequential(conv), mode="spatial")
    model = nn.Sequential(conv)
    decompose(model, mode="channel")
    assert torch.allclose(model(x), ref, atol=1e-12)


def test_compact_of_a_full_rank_layer_keeps_one_dense_layer():
    model = nn.Sequential(nn.Conv2d(3, 8, 3))
    decompose(model)
    plain = compact(model)
    assert isinstance(plain[0], nn.Conv2d)
    assert isinstance(compact(model, dense_if_cheaper=False)[0], nn.Sequential)

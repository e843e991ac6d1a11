"""Defense aggregators on tiny hand-built updates with hand-computed answers."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from carbide.exceptions import InvalidConfigError  # noqa: E402
from carbide.federated.aggregation import FedAvg  # noqa: E402
from carbide.federated.defenses import (  # noqa: E402
    DEFENSES,
    FoolsGold,
    Krum,
    Median,
    MultiKrum,
    NormClip,
    TrimmedMean,
    clip_updates,
    coordinate_median,
    foolsgold_weights,
    gaussian_noise,
    krum,
    krum_scores,
    make_defense,
    multi_krum,
    trimmed_mean,
)

# Five honest updates around (1, 1) and two far-away attackers (n=7, f=2).
HONEST = [[1.0, 1.0], [1.1, 1.0], [0.9, 1.0], [1.0, 1.1], [1.0, 0.9]]
CLUSTER = torch.tensor(HONEST + [[100.0, 100.0], [-100.0, 50.0]])
IDS7 = [f"c{i}" for i in range(7)]
ONES7 = torch.ones(7)

# Columns sorted by hand: col0 = 1, 2, 3, (4), 100; col1 = -5, 0, (7), 10, 20.
EVEN = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, -5.0], [100.0, 0.0]])
ODD = torch.cat([EVEN, torch.tensor([[4.0, 7.0]])])


def _call(agg, updates, weights=None, ids=None):
    n = updates.shape[0]
    weights = torch.ones(n) if weights is None else weights
    return agg(updates, weights, [f"c{i}" for i in range(n)] if ids is None else ids)


# -- contract shared by every defense ------------------------------------------------------

ALL = [Krum(2), MultiKrum(2), Median(), TrimmedMean(1), TrimmedMean(0.2), NormClip(1.0),
       NormClip(1.0, 0.1, seed=3), FoolsGold(), FedAvg()]


@pytest.mark.parametrize("agg", ALL, ids=lambda a: repr(a))
def test_contract_shapes_weights_and_json_info(agg):
    res = _call(agg, CLUSTER)
    assert res.update.shape == (2,) and res.update.dtype == torch.float32
    assert res.client_weights.shape == (7,)
    assert float(res.client_weights.sum()) == pytest.approx(1.0)
    assert (res.client_weights >= 0).all()
    json.dumps(res.info)
    assert isinstance(agg.name, str) and agg.name


@pytest.mark.parametrize("agg", ALL, ids=lambda a: repr(a))
def test_nan_and_mismatched_ids_are_rejected(agg):
    bad = CLUSTER.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(InvalidConfigError, match=r"rows \[3\] hold NaN"):
        _call(agg, bad)
    with pytest.raises(InvalidConfigError, match=r"weights must have shape \(7,\)"):
        agg(CLUSTER, torch.ones(5), IDS7)
    if not isinstance(agg, FedAvg):
        with pytest.raises(InvalidConfigError, match="got 5 client ids for 7 updates"):
            agg(CLUSTER, ONES7, IDS7[:5])


# -- Krum / Multi-Krum ---------------------------------------------------------------------

def test_krum_picks_the_centre_of_the_honest_cluster():
    scores = krum_scores(CLUSTER, 2)
    # n - f - 2 = 3 nearest: the centre is 0.1 away from four points -> 3 * 0.01.
    assert float(scores[0]) == pytest.approx(0.03, abs=1e-5)
    assert (scores[5:] > 1000).all()
    update, sel = krum(CLUSTER, 2)
    assert sel.tolist() == [0] and torch.equal(update, CLUSTER[0])
    res = _call(Krum(2), CLUSTER)
    assert res.info["selected"] == [0] and res.info["selected_ids"] == ["c0"]
    assert res.client_weights.tolist() == [1.0, 0, 0, 0, 0, 0, 0]
    assert res.accepted.tolist() == [True] + [False] * 6


@pytest.mark.parametrize("n,f", [(6, 2), (4, 1), (2, 0)])
def test_krum_needs_more_than_2f_plus_2_clients(n, f):
    msg = rf"Krum needs n > 2f \+ 2; got n={n}, f={f}: lower f or sample more clients"
    with pytest.raises(InvalidConfigError, match=msg):
        krum_scores(CLUSTER[:n], f)
    with pytest.raises(InvalidConfigError, match=msg):
        _call(Krum(f), CLUSTER[:n])
    with pytest.raises(InvalidConfigError, match=msg):
        _call(MultiKrum(f), CLUSTER[:n])


def test_multikrum_averages_the_honest_updates():
    update, sel = multi_krum(CLUSTER, 2)  # m = n - f = 5
    assert sorted(sel.tolist()) == [0, 1, 2, 3, 4]
    assert torch.allclose(update, torch.tensor([1.0, 1.0]))
    res = _call(MultiKrum(2), CLUSTER)
    assert torch.allclose(res.update, torch.tensor([1.0, 1.0]))
    assert res.client_weights.tolist() == pytest.approx([0.2] * 5 + [0.0, 0.0])
    assert res.info["m"] == 5 and sorted(res.info["selected"]) == [0, 1, 2, 3, 4]
    update, sel = multi_krum(CLUSTER, 2, m=1)
    assert sel.tolist() == [0] and torch.equal(update, CLUSTER[0])
    with pytest.raises(InvalidConfigError, match="m=8, n=7"):
        _call(MultiKrum(2, 8), CLUSTER)
    with pytest.raises(InvalidConfigError, match="m must be an integer >= 1"):
        MultiKrum(1, 0)


# -- median / trimmed mean -----------------------------------------------------------------

def test_coordinate_median_odd_and_even():
    assert coordinate_median(ODD).tolist() == [3.0, 7.0]
    # Even n: mean of the two middle values (2, 3) and (0, 10), not the lower one.
    assert coordinate_median(EVEN).tolist() == [2.5, 5.0]
    res = _call(Median(), EVEN)
    assert res.update.tolist() == [2.5, 5.0]
    assert res.client_weights.tolist() == [0.25] * 4
    assert "uniform" in res.info["client_weights"]


def test_trimmed_mean_odd_and_even():
    assert trimmed_mean(ODD, 1).tolist() == pytest.approx([3.0, 17.0 / 3.0])
    assert trimmed_mean(EVEN, 1).tolist() == [2.5, 5.0]
    assert torch.allclose(trimmed_mean(ODD, 0), ODD.mean(dim=0))
    res = _call(TrimmedMean(0.25), ODD)  # floor(0.25 * 5) = 1 at each end
    assert res.info["b"] == 1
    assert res.update.tolist() == pytest.approx([3.0, 17.0 / 3.0])
    assert res.client_weights.tolist() == pytest.approx([0.2] * 5)
    # row 0 holds col0's minimum; row 3 holds col0's maximum; row 2 col1's minimum.
    assert res.info["trimmed_share"] == pytest.approx([0.5, 0.5, 0.5, 0.5, 0.0])


def test_trimmed_mean_rejects_b_too_large_at_call_time():
    agg = TrimmedMean(2)  # fine for n >= 5
    with pytest.raises(InvalidConfigError, match="n=4, b=2"):
        _call(agg, EVEN)
    with pytest.raises(InvalidConfigError, match="n=4, b=2"):
        trimmed_mean(EVEN, 2)
    for bad in (0.5, 0.0, -1, True, "1"):
        with pytest.raises(InvalidConfigError, match="b"):
            TrimmedMean(bad)


# -- clipping / noise ----------------------------------------------------------------------

def test_clipping_bounds_norms_and_leaves_small_updates_alone():
    u = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    clipped, factors = clip_updates(u, 1.0)
    assert torch.allclose(clipped, torch.tensor([[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]]))
    assert factors.tolist() == pytest.approx([0.2, 1.0, 1.0])
    assert (torch.linalg.vector_norm(clipped, dim=1) <= 1.0 + 1e-6).all()
    res = _call(NormClip(1.0), u, weights=torch.tensor([1.0, 1.0, 2.0]))
    assert res.update.tolist() == pytest.approx([0.225, 0.3])
    assert res.client_weights.tolist() == [0.25, 0.25, 0.5]
    assert res.info["clipped"] == [0]
    for bad in (-1.0, 0.0, float("inf")):
        with pytest.raises(InvalidConfigError, match="max_norm"):
            NormClip(bad)
    with pytest.raises(InvalidConfigError, match="noise_std"):
        NormClip(1.0, -0.1)


def test_noise_is_seeded_and_resumable():
    v = torch.zeros(4)
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(gaussian_noise(v, 0.5, g1), gaussian_noise(v, 0.5, g2))
    assert torch.equal(gaussian_noise(v, 0.0), v)
    u = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    a, b = NormClip(1.0, 0.1, seed=5), NormClip(1.0, 0.1, seed=5)
    first = _call(a, u).update
    assert torch.equal(first, _call(b, u).update)
    state = a.state_dict()
    expected = _call(a, u).update
    c = NormClip(1.0, 0.1, seed=99)
    c.load_state_dict(state)
    assert torch.equal(_call(c, u).update, expected)
    assert not torch.equal(expected, first)


# -- FoolsGold -----------------------------------------------------------------------------

FG_IDS = ["h0", "h1", "h2", "h3", "s0", "s1", "s2"]
ROUND1 = torch.tensor([
    [1.0, 0.2, 0.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.3, 0.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.2, 0.0, 0.0],
    [0.1, 0.0, 0.0, 1.0, 0.0, 0.1],
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
])
ROUND2 = torch.tensor([
    [0.5, 0.0, 0.1, 0.0, 0.0, 0.0],
    [0.0, 0.7, 0.0, 0.0, 0.2, 0.0],
    [0.1, 0.0, 0.6, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.8, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.1, 1.0, 1.0],
    [0.0, 0.0, 0.0, 0.1, 1.0, 1.0],
    [0.0, 0.0, 0.0, 0.1, 1.0, 1.0],
])


def test_foolsgold_weights_zero_out_identical_histories():
    assert foolsgold_weights(ROUND1).tolist() == [1.0] * 4 + [0.0] * 3
    # All alike -> nothing to trust; a lone client keeps full weight.
    assert foolsgold_weights(ROUND1[4:]).tolist() == [0.0, 0.0, 0.0]
    assert foolsgold_weights(ROUND1[:1]).tolist() == [1.0]
    with pytest.raises(InvalidConfigError, match="kappa"):
        foolsgold_weights(ROUND1, kappa=0.0)


def test_foolsgold_rejects_sybils_across_two_rounds():
    fg = FoolsGold()
    weights = torch.tensor([10.0, 20, 30, 40, 50, 60, 70])  # sample counts are not used
    for updates in (ROUND1, ROUND2):
        res = fg(updates, weights, FG_IDS)
        raw = torch.tensor(res.info["fg_weights"])
        assert (raw[4:] < 1e-6).all(), raw
        assert (raw[:4] > 0.5).all(), raw
        assert not res.info["all_rejected"]
        assert res.client_weights[4:].tolist() == [0.0, 0.0, 0.0]
        assert float(res.client_weights.sum()) == pytest.approx(1.0)
        expected = res.client_weights @ updates
        assert torch.allclose(res.update, expected)
    assert torch.allclose(fg.state_dict()["history"]["s1"], ROUND1[5] + ROUND2[5])
    assert fg.state_dict()["rounds"] == 2


def test_foolsgold_all_alike_gives_zero_update():
    res = FoolsGold()(ROUND1[4:], torch.ones(3), ["a", "b", "c"])
    assert res.info["all_rejected"] and "zero update" in res.info["note"]
    assert torch.equal(res.update, torch.zeros(6))
    assert res.client_weights.tolist() == [0.0, 0.0, 0.0]


def test_foolsgold_state_dict_round_trip():
    a = FoolsGold()
    a(ROUND1, ONES7, FG_IDS)
    b = FoolsGold()
    b.load_state_dict(a.state_dict())
    ra, rb = a(ROUND2, ONES7, FG_IDS), b(ROUND2, ONES7, FG_IDS)
    assert torch.equal(ra.update, rb.update)
    assert torch.equal(ra.client_weights, rb.client_weights)
    assert ra.info == rb.info
    # The state is a copy: changing it does not reach back into the aggregator.
    state = a.state_dict()
    state["history"]["h0"].add_(100.0)
    assert not torch.equal(a.state_dict()["history"]["h0"], state["history"]["h0"])
    with pytest.raises(InvalidConfigError, match="history"):
        b.load_state_dict({"nope": 1})


def test_foolsgold_rejects_repeated_ids_and_changed_sizes():
    fg = FoolsGold()
    with pytest.raises(InvalidConfigError, match="repeated"):
        fg(ROUND1[:2], torch.ones(2), ["a", "a"])
    fg(ROUND1[:2], torch.ones(2), ["a", "b"])
    with pytest.raises(InvalidConfigError, match="history of 6 values"):
        fg(ROUND1[:2, :3], torch.ones(2), ["a", "b"])


# -- make_defense --------------------------------------------------------------------------

@pytest.mark.parametrize("spec,cls,params", [
    ("none", FedAvg, {}),
    ("krum", Krum, {"f": 1}),
    ("krum:2", Krum, {"f": 2}),
    ("multikrum", MultiKrum, {"f": 1, "m": None}),
    ("multikrum:2", MultiKrum, {"f": 2, "m": None}),
    ("multikrum:2:3", MultiKrum, {"f": 2, "m": 3}),
    ("median", Median, {}),
    ("trimmed:1", TrimmedMean, {"b": 1}),
    ("trimmed:0.2", TrimmedMean, {"b": 0.2}),
    (" Clip:1.5 ", NormClip, {"max_norm": 1.5, "noise_std": 0.0}),
    ("clip:1:0.01", NormClip, {"max_norm": 1.0, "noise_std": 0.01}),
    ("foolsgold", FoolsGold, {"kappa": 1.0}),
    ("foolsgold:2", FoolsGold, {"kappa": 2.0}),
])
def test_make_defense_parses_every_form(spec, cls, params):
    agg = make_defense(spec)
    assert type(agg) is cls
    for key, value in params.items():
        assert getattr(agg, key) == value
    assert type(params.get("b", 0)) is type(getattr(agg, "b", 0))
    assert spec.strip().lower().split(":")[0] in DEFENSES


@pytest.mark.parametrize("spec,match", [
    ("bogus", "valid forms: none, krum"),
    ("", "valid forms"),
    ("trimmed", "valid forms"),
    ("krum:1:2", "valid forms"),
    ("krum:x", "F must be an integer"),
    ("krum:-1", "f must be an integer >= 0"),
    ("clip:-1", "max_norm"),
    ("clip:1:-0.5", "noise_std"),
    ("clip:abc", "C must be a number"),
    ("trimmed:0.7", r"fraction must be in \(0, 0.5\)"),
])
def test_make_defense_rejects_bad_specs(spec, match):
    with pytest.raises(InvalidConfigError, match=match):
        make_defense(spec)


def test_make_defense_trimmed_too_large_fails_at_call_time():
    agg = make_defense("trimmed:3")
    with pytest.raises(InvalidConfigError, match="n=5, b=3"):
        _call(agg, ODD)

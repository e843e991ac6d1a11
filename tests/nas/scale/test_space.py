import json

import numpy as np
import pytest

from carbide.exceptions import InvalidArchitectureError
from carbide.nas.scale.space import (
    DENSITIES,
    GroupedSampler,
    ScaleArch,
    ScaleSpace,
    UniformSampler,
    depth_groups,
    load_arch,
    save_arch,
)

SPACE = ScaleSpace(width=4, depth_range=(2, 5))


def test_structure_and_extremes():
    assert SPACE.module_branches == (2, 3, 4)
    assert SPACE.widths == (4, 8, 16, 32)
    big, small = SPACE.largest(), SPACE.smallest()
    assert all(d == 5 for m in big.modules for d in m.depths)
    assert big.fusion_density() == 1.0 and small.fusion_density() == 0.0
    assert [len(m.fusion) for m in small.modules] == [2, 2, 2]


def test_json_round_trip(tmp_path, rng):
    arch = SPACE.sample(rng)
    assert ScaleArch.from_dict(json.loads(json.dumps(arch.to_dict()))) == arch
    path = save_arch(arch, tmp_path / "a.json")
    assert load_arch(path, SPACE) == arch
    # a pareto.json entry works too
    (tmp_path / "p.json").write_text(json.dumps({"arch": arch.to_dict(), "flops": 1}))
    assert load_arch(tmp_path / "p.json", SPACE) == arch


@pytest.mark.parametrize("edit, match", [
    (lambda d: d["modules"][0].__setitem__("depths", [6, 2]), "depth 6 is outside"),
    (lambda d: d["modules"][0].__setitem__("depths", [1, 2]), "depth 1 is outside"),
    (lambda d: d["modules"][1]["fusion"][0][0].__setitem__(1, 2), r"fusion\[0\]\[0\]\[1\] = 2"),
    (lambda d: d["modules"][1]["fusion"][0][1].__setitem__(1, 1), "diagonal"),
    (lambda d: d["modules"].pop(), "2 modules"),
    (lambda d: d["modules"][0]["fusion"].pop(), "fusion rounds"),
])
def test_validation_names_the_value(edit, match):
    data = SPACE.smallest().to_dict()
    edit(data)
    with pytest.raises(InvalidArchitectureError, match=match):
        SPACE.validate(ScaleArch.from_dict(data))


def test_mutation_and_crossover_stay_valid(rng):
    a, b = SPACE.sample(rng), SPACE.sample(rng)
    for _ in range(20):
        child = SPACE.mutate(a, rng)
        assert child != a
        SPACE.validate(child)
        cross = SPACE.crossover(a, b, rng)
        assert all(m in (ma, mb) for m, ma, mb in zip(cross.modules, a.modules, b.modules,
                                                    strict=True))


def test_grouped_sampler_visits_every_group_with_sandwich():
    s = GroupedSampler(SPACE, per_group=1, seed=0)
    groups = depth_groups(SPACE.depth_range)
    assert groups == ((2, 3), (3, 4), (4, 5))
    seen = set()
    for _ in range(len(DENSITIES) * len(groups)):
        step = s.next()
        assert step[0] == ("largest", SPACE.largest())
        assert step[1] == ("smallest", SPACE.smallest())
        name, arch = step[2]
        _, p, r = name.split(":")
        lo, hi = map(int, r.split("-"))
        assert all(lo <= d <= hi for m in arch.modules for d in m.depths)
        seen.add((float(p), (lo, hi)))
    assert seen == {(p, g) for p in DENSITIES for g in groups}
    # resume gives the same continuation
    state = s.state_dict()
    nxt = s.next()
    s2 = GroupedSampler(SPACE, seed=5)
    s2.load_state_dict(state)
    assert s2.next() == nxt


def test_group_density_is_respected():
    rng = np.random.default_rng(1)
    for p in DENSITIES:
        dens = np.mean([SPACE.sample_group(rng, p, (5, 5)).fusion_density() for _ in range(50)])
        assert abs(dens - p) < 0.05


def test_uniform_sampler_keeps_sandwich():
    step = UniformSampler(SPACE, seed=0).next()
    assert [n for n, _ in step] == ["largest", "smallest", "uniform"]

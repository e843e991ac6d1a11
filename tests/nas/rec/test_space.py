from __future__ import annotations

import json

import numpy as np
import pytest

from carbide.exceptions import InvalidArchitectureError, InvalidConfigError
from carbide.nas.rec import RecArch, make_rec_space
from carbide.nas.rec.space import FULL_DENSE_DIMS, FULL_SPARSE_DIMS


def test_presets_follow_the_paper():
    full, small = make_rec_space("full"), make_rec_space("small")
    assert full.num_blocks == small.num_blocks == 7 and full.embedding_dim == 16
    assert full.dense_ops == ("fc", "gating", "sum", "dot")
    assert full.sparse_ops == ("efc", "attn")
    assert small.dense_ops == ("fc", "dot") and small.sparse_ops == ("efc",)
    assert full.dense_dims == FULL_DENSE_DIMS == (16, 32, 64, 128, 256, 512, 768, 1024)
    assert full.sparse_dims == FULL_SPARSE_DIMS == (16, 32, 48, 64)
    with pytest.raises(InvalidConfigError, match="'small' or 'full'"):
        make_rec_space("medium")
    with pytest.raises(InvalidConfigError, match="ascending"):
        make_rec_space("full", dense_dims=(8, 4))
    with pytest.raises(InvalidConfigError, match="dense_ops"):
        make_rec_space("full", dense_ops=("conv",))


def test_samples_valid_and_json_round_trip(tiny_space):
    rng = np.random.default_rng(0)
    for _ in range(50):
        arch = tiny_space.sample_arch(rng)
        tiny_space.validate_arch(arch)
        assert RecArch.from_json(arch.to_json()) == arch
        for i, b in enumerate(arch.blocks, start=1):
            assert b.dense_in and all(0 <= j < i for j in b.dense_in)
            assert list(b.dense_in) == sorted(set(b.dense_in))
        cell = tiny_space.to_cell(arch)
        assert tiny_space.to_arch(cell) == arch
        assert cell.ops[0] == "input" and cell.ops[-1] == "output"


def test_mutation_moves_one_field(tiny_space):
    rng = np.random.default_rng(1)
    for _ in range(40):
        arch = tiny_space.sample_arch(rng)
        child = tiny_space.mutate_arch(arch, rng)
        tiny_space.validate_arch(child)
        diffs = [(i, f) for i, (a, b) in enumerate(zip(arch.blocks, child.blocks, strict=False))
                 for f in a.to_dict() if a.to_dict()[f] != b.to_dict()[f]]
        assert len(diffs) == 1


def test_interactions_off_space_never_uses_them():
    space = make_rec_space("small", interactions=False, num_blocks=4)
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.mutate_arch(space.sample_arch(rng), rng)
        assert not any(b.d2s or b.fm for b in arch.blocks)


def _arch_dict(space, rng):
    return json.loads(space.sample_arch(rng).to_json())


@pytest.mark.parametrize(("edit", "match"), [
    (lambda d: d["blocks"][1].update(dense_op="conv"), r"block 2: dense_op = 'conv'"),
    (lambda d: d["blocks"][0].update(dense_dim=5), r"block 1: dense_dim = 5 .* choose one of"),
    (lambda d: d["blocks"][2].update(sparse_in=[3]), r"block 3: sparse_in = \[3\]"),
    (lambda d: d["blocks"][1].update(dense_in=[]), r"block 2: dense_in = \[\]"),
    (lambda d: d["blocks"].pop(), "has 2 blocks"),
    (lambda d: d["blocks"][0].pop("sparse_op"), r"block 1: missing field\(s\) \['sparse_op'\]"),
    (lambda d: d["blocks"][0].update(width=3), r"unknown field\(s\) \['width'\]"),
    (lambda d: d["blocks"][0].update(d2s="yes"), "d2s must be true/false"),
    (lambda d: d["blocks"][0].update(dense_dim="8"), "dense_dim must be an integer"),
])
def test_bad_architecture_json_names_the_field(tiny_space, edit, match):
    d = _arch_dict(tiny_space, np.random.default_rng(3))
    edit(d)
    with pytest.raises(InvalidArchitectureError, match=match):
        tiny_space.validate_arch(RecArch.from_dict(d))


def test_interactions_rejected_by_a_space_without_them(tiny_space):
    d = _arch_dict(tiny_space, np.random.default_rng(3))
    d["blocks"][0]["fm"] = True
    space = make_rec_space("full", dense_dims=(4, 8), sparse_dims=(2, 3), num_blocks=3,
                           interactions=False)
    with pytest.raises(InvalidArchitectureError, match="interactions=False"):
        space.validate_arch(RecArch.from_dict(d))
    with pytest.raises(InvalidArchitectureError, match="not valid JSON"):
        RecArch.from_json("{")


def test_needed_blocks(tiny_space):
    d = _arch_dict(tiny_space, np.random.default_rng(0))
    d["blocks"][2].update(dense_in=[0], sparse_in=[1])
    assert RecArch.from_dict(d).needed_blocks() == [1, 3]

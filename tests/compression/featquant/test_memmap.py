"""MemmapFeatures: fp32 rows from a memory-mapped .npy file, same gather contract as the rest."""

from __future__ import annotations

import mmap

import numpy as np
import pytest
import torch

from carbide.compression.featquant import DenseFeatures, MemmapFeatures
from carbide.exceptions import InvalidConfigError


def _x(n=300, d=20):
    return torch.randn((n, d), generator=torch.Generator().manual_seed(0))


@pytest.fixture
def npy(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, _x().numpy())
    return path


def test_gather_equals_the_dense_rows(npy):
    feats, dense = MemmapFeatures(npy), DenseFeatures(_x())
    assert feats.shape == (300, 20) and feats.nbytes == 300 * 20 * 4
    assert feats.compression_ratio == 1.0 and feats.method == "none"
    idx = torch.tensor([5, 0, 299, -1, 5])
    assert torch.equal(feats.gather(idx), dense.gather(idx))
    assert torch.equal(feats.gather(idx.to(torch.int32)), dense.gather(idx))
    out = torch.full((5, 20), float("nan"))
    assert feats.gather(idx, out=out) is out and torch.equal(out, dense.gather(idx))
    strided = torch.empty((20, 5)).T
    assert torch.equal(feats.gather(idx, out=strided), out)
    assert feats.gather(torch.tensor([], dtype=torch.long)).shape == (0, 20)
    rows = feats.gather(idx)
    rows += 1  # a gathered batch is a fresh, writable copy, never a view of the file
    assert torch.equal(feats.gather(idx), dense.gather(idx))


def test_errors_name_the_value_and_the_fix(npy, tmp_path):
    feats = MemmapFeatures(npy)
    with pytest.raises(IndexError, match=r"index 300 is out of range for 300 rows"):
        feats.gather(torch.tensor([1, 300]))
    with pytest.raises(InvalidConfigError, match=r"out must be float32 \(1, 20\)"):
        feats.gather(torch.tensor([1]), out=torch.empty(2, 20))
    with pytest.raises(InvalidConfigError, match="budget_bytes must be an integer >= "):
        MemmapFeatures(npy, budget_bytes=10)
    bad = tmp_path / "f64.npy"
    np.save(bad, np.zeros((3, 4)))
    with pytest.raises(InvalidConfigError, match=r"float64 array of shape \(3, 4\).*np.save"):
        MemmapFeatures(bad)
    text = tmp_path / "x.txt"
    text.write_text("not numpy")
    with pytest.raises(InvalidConfigError, match="is not a .npy file"):
        MemmapFeatures(text)
    with pytest.raises(FileNotFoundError):
        MemmapFeatures(tmp_path / "missing.npy")


def test_budget_evicts_when_more_than_it_is_resident(npy, monkeypatch):
    feats = MemmapFeatures(npy, budget_bytes=2 * mmap.PAGESIZE)
    resident = iter([3 * mmap.PAGESIZE, 2 * mmap.PAGESIZE, 5 * mmap.PAGESIZE])
    monkeypatch.setattr(feats, "resident_bytes", lambda: next(resident))
    evicted = []
    monkeypatch.setattr(feats, "evict", lambda: evicted.append(True))
    idx = torch.tensor([3, 7])
    for expected in (1, 1, 2):  # over, at (kept), over the budget
        assert torch.equal(feats.gather(idx), _x()[idx])
        assert feats.evictions == expected == len(evicted)
    monkeypatch.undo()
    assert MemmapFeatures(npy).evictions == 0  # no budget: never asks, never evicts


def test_evict_and_resident_bytes_leave_gathers_correct(npy):
    feats = MemmapFeatures(npy, budget_bytes=mmap.PAGESIZE)
    size = 128 + 300 * 20 * 4  # header + data
    feats.evict()
    # how much the kernel keeps is its business (tmpfs keeps all): only bounds are certain
    assert 0 <= feats.resident_bytes() <= -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
    assert torch.equal(feats.gather(torch.arange(300)), _x())
    feats.close()
    feats.close()  # idempotent

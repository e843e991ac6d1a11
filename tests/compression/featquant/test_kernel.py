"""The fused numba gather kernel against the torch path: equal bit for bit, same errors."""

from __future__ import annotations

import pytest
import torch

from carbide.compression.featquant import _kernel, quantize
from carbide.compression.featquant._kernel import (
    ENV_VAR,
    compile_kernels,
    numba_available,
    resolve_kernel,
)
from carbide.compression.featquant._vq import vq_fit
from carbide.exceptions import InvalidConfigError, MissingDependencyError

needs_numba = pytest.mark.skipif(not numba_available(), reason="numba is not installed")

SETTINGS = ([{"method": "sq", "bits": b} for b in (1, 2, 4, 8, 16)]
            + [{"method": "vq", "width": w, "codebook": k}
               for w, k in ((8, 16), (16, 64), (5, 32), (16, 300))])


def _x(n=700, d=37, seed=0):
    x = torch.randn((n, d), generator=torch.Generator().manual_seed(seed))
    x[::7, 3:20] = 0.0  # exact zeros: zero codes and zero VQ sub-vectors
    return x


@pytest.fixture(scope="module")
def feats():
    x = _x()
    return {str(kw): quantize(x, **kw) for kw in SETTINGS}


def _bits(t):
    return t.contiguous().view(torch.int32)


@needs_numba
@pytest.mark.parametrize("kw", SETTINGS, ids=str)
@pytest.mark.parametrize("threads", [1, 2])
def test_numba_equals_torch_bit_for_bit(feats, kw, threads):
    q = feats[str(kw)]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        idx = torch.randint(-700, 700, (64 * 3 + 5,), generator=torch.Generator().manual_seed(1))
        for index in (idx, idx.to(torch.int32), torch.tensor([5]), torch.arange(700)):
            a = q.gather(index, kernel="numba")
            b = q.gather(index, kernel="torch")
            assert a.dtype == torch.float32 and a.shape == (index.numel(), 37)
            assert a.is_contiguous() and torch.equal(_bits(a), _bits(b))
        out = torch.full((idx.numel(), 37), float("nan"))
        assert q.gather(idx, out=out, kernel="numba") is out
        assert torch.equal(_bits(out), _bits(q.gather(idx, kernel="torch")))
        strided = torch.empty((37, idx.numel())).T  # a non-contiguous out is filled too
        assert torch.equal(_bits(q.gather(idx, out=strided, kernel="numba")), _bits(out))
    finally:
        torch.set_num_threads(before)


@needs_numba
def test_empty_index_and_errors_are_the_same_on_both_paths(feats):
    q = feats[str(SETTINGS[0])]
    for kernel in ("numba", "torch"):
        assert q.gather(torch.tensor([], dtype=torch.long), kernel=kernel).shape == (0, 37)
        with pytest.raises(IndexError, match=r"index 700 is out of range for 700 rows"):
            q.gather(torch.tensor([1, 700]), kernel=kernel)
        with pytest.raises(IndexError, match="-701"):
            q.gather(torch.tensor([-701], dtype=torch.int32), kernel=kernel)
        with pytest.raises(InvalidConfigError, match="out must be float32"):
            q.gather(torch.tensor([1]), out=torch.empty(2, 37), kernel=kernel)


# The span kernels (table entries of 4, 8 or 16 floats: SQ1/SQ2 byte tables, VQ widths 4/8/16;
# uint8 or int16 codes) against the torch path: widths that divide D and one that does not
# (the last entry cut by padding), non-temporal stores on (aligned out) and off, 1 and 2
# threads; the other widths (SQ4/SQ8, VQ 5 and 12) run the block kernel beside them.
SPAN_SETTINGS = ([{"method": "sq", "bits": b} for b in (1, 2, 4, 8)]
                 + [{"method": "vq", "width": w, "codebook": k}
                    for w, k in ((16, 64), (16, 300), (8, 32), (4, 16), (12, 16), (5, 16))])


@needs_numba
@pytest.mark.parametrize("d", [128, 40, 37])
@pytest.mark.parametrize("threads", [1, 2])
def test_span_kernels_equal_torch_bit_for_bit(monkeypatch, d, threads):
    x = _x(300, d, seed=d)
    idx = torch.randint(-300, 300, (200,), generator=torch.Generator().manual_seed(2))
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for kw in SPAN_SETTINGS:
            q = quantize(x, **kw)
            assert q.codes.dtype == (torch.int16 if kw.get("codebook") == 300 else torch.uint8)
            expected = _bits(q.gather(idx, kernel="torch"))
            for nt_min in (1 << 60, 0):  # stores: cached / non-temporal wherever aligned
                monkeypatch.setattr(_kernel, "NT_MIN_BYTES", nt_min)
                assert torch.equal(_bits(q.gather(idx, kernel="numba")), expected), kw
                out = torch.full((idx.numel(), d), float("nan"))
                assert q.gather(idx, out=out, kernel="numba") is out
                assert torch.equal(_bits(out), expected), kw
                # contiguous but 4 bytes off the 64-byte alignment: normal stores
                big = torch.full((idx.numel() * d + 1,), float("nan"))
                shifted = big[1:].view(idx.numel(), d)
                q.gather(idx, out=shifted, kernel="numba")
                assert torch.equal(_bits(shifted), expected) and torch.isnan(big[0]), kw
                empty = torch.empty((0, d))
                assert q.gather(idx[:0], out=empty, kernel="numba") is empty
    finally:
        torch.set_num_threads(before)


def test_kernel_choice_argument_and_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    # "auto": the kernel when numba imports (the faster path where measured), else torch
    auto = "numba" if numba_available() else "torch"
    assert resolve_kernel(None) == resolve_kernel("auto") == auto
    assert resolve_kernel("torch") == "torch"
    monkeypatch.setenv(ENV_VAR, "torch")
    assert resolve_kernel(None) == "torch"
    monkeypatch.setenv(ENV_VAR, " Auto ")
    assert resolve_kernel(None) == auto
    if numba_available():
        monkeypatch.setenv(ENV_VAR, "numba")
        assert resolve_kernel(None) == "numba"
        assert resolve_kernel("torch") == "torch"  # the argument wins over the variable
    monkeypatch.setenv(ENV_VAR, "cuda")
    with pytest.raises(InvalidConfigError, match=f"{ENV_VAR}='cuda'.*auto, numba, torch"):
        resolve_kernel(None)
    with pytest.raises(InvalidConfigError, match="kernel='fast'"):
        quantize(_x(50, 8), "sq", bits=2).gather(torch.tensor([1]), kernel="fast")


def _spy_on_kernel(monkeypatch):
    import carbide.compression.featquant.quantized as quantized

    calls = []
    real = quantized.fused_gather

    def spy(*args):
        calls.append(True)
        return real(*args)

    monkeypatch.setattr(quantized, "fused_gather", spy)
    return calls


@needs_numba
def test_gather_runs_the_path_it_resolves_to(monkeypatch):
    """``"auto"`` and ``"numba"`` (argument or environment variable) call the fused kernel,
    ``"torch"`` never does; both give the same bits."""
    calls = _spy_on_kernel(monkeypatch)
    monkeypatch.delenv(ENV_VAR, raising=False)
    q = quantize(_x(50, 8), "sq", bits=2)
    idx = torch.tensor([3, 1, 49])
    expected = q.gather(idx, kernel="torch")
    assert calls == []
    assert torch.equal(q.gather(idx), expected) and len(calls) == 1
    assert torch.equal(q.gather(idx, kernel="auto"), expected) and len(calls) == 2
    assert torch.equal(q.gather(idx, kernel="numba"), expected) and len(calls) == 3
    monkeypatch.setenv(ENV_VAR, "torch")
    assert torch.equal(q.gather(idx), expected) and len(calls) == 3
    monkeypatch.setenv(ENV_VAR, "numba")
    assert torch.equal(q.gather(idx), expected) and len(calls) == 4


def test_default_falls_back_to_torch_without_numba(monkeypatch):
    import sys

    from carbide.compression.featquant import _kernel

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now raises ImportError
    _kernel.numba_available.cache_clear()
    try:
        assert not _kernel.numba_available() and resolve_kernel(None) == "torch"
        calls = _spy_on_kernel(monkeypatch)
        q = quantize(_x(50, 8), "sq", bits=2)
        assert torch.equal(q.gather(torch.tensor([0, 7])), q.dequantize()[[0, 7]])
        assert calls == []  # the torch path ran, not the kernel
    finally:
        _kernel.numba_available.cache_clear()


def test_asking_for_numba_without_it_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "carbide\[graph\]"'):
        resolve_kernel("numba")


@needs_numba
def test_compile_kernels_keeps_the_thread_count():
    before = torch.get_num_threads()
    compile_kernels()
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("kmeans", ["faiss", "torch"])
def test_vq_fitters_recover_clusters_and_are_deterministic(kmeans):
    pytest.importorskip("faiss") if kmeans == "faiss" else None
    gen = torch.Generator().manual_seed(0)
    centres = torch.randn((4, 8), generator=gen) * 5
    x = centres[torch.randint(4, (400,), generator=gen)] + 0.01 * torch.randn((400, 8),
                                                                            generator=gen)
    a, za = vq_fit(x, 8, 4, kmeans=kmeans, seed=3)
    b, zb = vq_fit(x, 8, 4, kmeans=kmeans, seed=3)
    assert torch.equal(a, b) and torch.equal(za, zb) and not bool(za.any())
    # every true centre has a fitted centre within the noise
    dist = torch.cdist(centres, a[0])
    assert float(dist.min(dim=1).values.max()) < 0.1
    q = quantize(x, "vq", width=8, codebook=4, kmeans=kmeans)
    assert float((q.dequantize() - x).abs().max()) < 0.1


def test_vq_fitter_name_is_checked():
    with pytest.raises(InvalidConfigError, match="unknown VQ k-means 'sklearn'"):
        vq_fit(_x(50, 8), 8, 4, kmeans="sklearn")

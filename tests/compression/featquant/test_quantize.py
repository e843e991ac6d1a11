from __future__ import annotations

import math

import pytest
import torch

from carbide.compression.featquant import (
    DenseFeatures,
    QuantizedFeatures,
    pack_bits,
    quantize,
    sq_decode,
    sq_encode,
    sq_fit,
    unpack_bits,
)
from carbide.compression.featquant._packing import byte_table
from carbide.compression.featquant._sq import sq_levels
from carbide.compression.featquant.cache import cache_by_degree, degree_order
from carbide.exceptions import CarbideError, InvalidConfigError


def _signed(n=400, d=24, seed=0):
    return torch.randn((n, d), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
def test_sq_relative_error_within_half_a_log_bin(bits):
    x = _signed()
    p = sq_fit(x, bits)
    assert p.signed and not p.zero_code
    dec = sq_decode(sq_encode(x, p), p)
    inside = (x.abs() >= p.fmin) & (x.abs() <= p.fmax)
    half_bin = (math.log2(p.fmax) - math.log2(p.fmin)) / p.levels_per_sign / 2
    ratio = torch.log2(dec[inside] / x[inside])
    assert float(ratio.abs().max()) <= half_bin + 1e-4
    assert torch.equal(torch.sign(dec), torch.sign(x))
    assert p.levels_per_sign == 2 ** (bits - 1)


def test_sq_error_shrinks_with_bits():
    x = _signed()
    errs = [float((quantize(x, "sq", bits=b).dequantize() - x).abs().mean()) for b in (1, 2, 4, 8)]
    assert errs == sorted(errs, reverse=True)


def test_sq1_paper_scheme_keeps_the_sign_at_mean_magnitude():
    x = _signed()
    q = quantize(x, "sq", bits=1)
    dec = q.dequantize()
    assert torch.allclose(dec.abs(), torch.full_like(dec, float(x.abs().mean())), rtol=1e-3)
    assert torch.equal(dec > 0, x > 0)
    z = torch.tensor([[0.0, 0.2], [0.1, 0.0]])  # the paper's scheme sends zeros negative
    p = sq_fit(z, 1, scheme="paper")
    assert p.signed and not p.zero_code
    assert p.mean_abs == pytest.approx(0.075 + 0.1)  # the authors' patch for mean|x| < 0.1
    assert torch.equal(sq_decode(sq_encode(z, p), p) > 0, z > 0)
    with pytest.raises(InvalidConfigError, match="leave both unset"):
        sq_fit(z, 1, scheme="paper", signed=False)
    with pytest.raises(InvalidConfigError, match="unknown SQ scheme"):
        sq_fit(z, 1, scheme="dgl")


def test_sq_zero_code_keeps_exact_zeros_and_skips_the_sign_for_nonnegative_data():
    x = torch.zeros(50, 30)
    x[::3, ::2] = 1.0  # binary bag-of-words
    p = sq_fit(x, 1)
    assert not p.signed and p.zero_code
    dec = quantize(x, "sq", bits=1).dequantize()
    assert torch.equal(dec, x)  # binary features: lossless at 1 bit
    y = _signed().clamp(min=0)
    dy = quantize(y, "sq", bits=2).dequantize()
    assert torch.equal(dy == 0, y == 0) and bool((dy >= 0).all())


def test_sq_one_bit_signed_cannot_reserve_a_zero_code():
    with pytest.raises(InvalidConfigError, match="no room for a zero code"):
        sq_fit(_signed(), 1, zero_code=True)


@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("dim", [1, 7, 16, 33])
def test_pack_round_trip(bits, dim):
    codes = torch.randint(0, 2**bits, (9, dim), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(dim))
    packed = pack_bits(codes, bits)
    assert packed.shape == (9, math.ceil(dim * bits / 8)) and packed.dtype == torch.uint8
    assert torch.equal(unpack_bits(packed, bits, dim), codes)


def test_pack_rejects_codes_too_wide_and_unpackable_widths():
    with pytest.raises(InvalidConfigError, match="do not fit in 2 bits"):
        pack_bits(torch.full((1, 4), 4, dtype=torch.uint8), 2)
    with pytest.raises(InvalidConfigError, match=r"\(1, 2, 4\)"):
        pack_bits(torch.zeros((1, 4), dtype=torch.uint8), 3)


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_byte_table_decodes_every_byte(bits):
    levels = torch.arange(2**bits, dtype=torch.float32) * 10
    table = byte_table(levels, bits)
    packed = torch.arange(256, dtype=torch.uint8).view(256, 1)
    assert torch.equal(table, levels[unpack_bits(packed, bits, 8 // bits).long()])


def test_vq_recovers_cluster_centres():
    gen = torch.Generator().manual_seed(1)
    centres = torch.tensor([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0], [0, 0, 0, 3.0]])
    labels = torch.randint(0, 4, (400, 2), generator=gen)  # two sub-spaces of width 4
    x = torch.cat([centres[labels[:, 0]], -centres[labels[:, 1]]], dim=1)
    x = x + 0.05 * torch.randn(x.shape, generator=gen)
    q = quantize(x, "vq", width=4, codebook=4, seed=0)
    truth = torch.cat([centres[labels[:, 0]], -centres[labels[:, 1]]], dim=1)
    assert float((q.dequantize() - truth).abs().max()) < 0.05
    for sub, sign in ((0, 1.0), (1, -1.0)):
        got = sorted(tuple(round(v) for v in row.tolist()) for row in q.table[sub])
        assert got == sorted(tuple(round(sign * v) for v in row.tolist()) for row in centres)


def test_vq_pads_a_width_that_does_not_divide_d_and_codes_zero_subvectors_exactly():
    x = _signed(200, 10).clamp(min=0.2)
    x[:50, 8:] = 0.0  # the padded last sub-vector is zero for some rows
    q = quantize(x, "vq", width=4, codebook=8)
    assert q.codes.shape == (200, 3) and q.codes.dtype == torch.uint8
    assert q.table.shape == (3, 8, 4)
    dec = q.dequantize()
    assert dec.shape == (200, 10)
    assert torch.equal(dec[:50, 8:], torch.zeros(50, 2))
    assert quantize(_signed(600, 8), "vq", width=8, codebook=300).codes.dtype == torch.int16


def test_compression_ratio_counts_everything():
    x = _signed(1000, 128)
    q = quantize(x, "sq", bits=1)
    stored = 1000 * 16 + 2 * 4 + 8 * (2 + 6)  # codes + levels + shape and six params
    assert q.nbytes == stored
    assert q.compression_ratio == pytest.approx(1000 * 128 * 4 / stored)
    v = quantize(x, "vq", width=16, codebook=16)
    assert v.nbytes == 1000 * 8 + 8 * 16 * 16 * 4 + 8 + 8 * (2 + 2)
    assert DenseFeatures(x).compression_ratio == 1.0 and DenseFeatures(x).nbytes == 512_000


@pytest.mark.parametrize("kw", [{"method": "sq", "bits": b} for b in (1, 2, 4, 8, 16)]
                         + [{"method": "vq", "width": 16, "codebook": 32},
                            {"method": "vq", "width": 7, "codebook": 32}])
def test_gather_matches_full_dequantization(kw):
    x = _signed(300, 40)
    q = quantize(x, **kw)
    idx = torch.tensor([0, 299, 17, 17, -1])
    rows = q.gather(idx)
    assert rows.dtype == torch.float32 and rows.shape == (5, 40)
    assert torch.equal(rows, q.dequantize()[idx])
    out = torch.empty(5, 40)
    assert q.gather(idx, out=out) is out and torch.equal(out, rows)
    assert q.gather(torch.tensor([], dtype=torch.long)).shape == (0, 40)


def test_gather_errors():
    q = quantize(_signed(30, 8), "sq", bits=4)
    with pytest.raises(IndexError, match=r"index 30 is out of range for 30 rows \(valid: 0..29\)"):
        q.gather(torch.tensor([1, 30]))
    with pytest.raises(IndexError, match="-31"):
        q.gather(torch.tensor([-31]))
    with pytest.raises(TypeError, match="integer"):
        q.gather(torch.tensor([1.0]))
    with pytest.raises(InvalidConfigError, match="out must be float32"):
        q.gather(torch.tensor([1]), out=torch.empty(2, 8))


def test_bad_configs_and_bad_features():
    x = _signed(20, 4)
    with pytest.raises(InvalidConfigError, match=r"choose one of \(1, 2, 4, 8, 16\)"):
        quantize(x, "sq", bits=3)
    with pytest.raises(InvalidConfigError, match="choose one of sq, vq"):
        quantize(x, "pq")
    with pytest.raises(InvalidConfigError, match="larger than the 20 rows"):
        quantize(x, "vq", codebook=64)
    with pytest.raises(InvalidConfigError, match="positive integer"):
        quantize(x, "vq", width=0, codebook=4)
    bad = x.clone()
    bad[3, 2] = float("nan")
    bad[5, 1] = float("inf")
    with pytest.raises(InvalidConfigError, match=r"2 non-finite values \(1 NaN, 1 Inf\).*row 3, "
                                                 r"column 2"):
        quantize(bad, "sq", bits=2)


def test_save_load_round_trip(tmp_path):
    for kw in ({"method": "sq", "bits": 2}, {"method": "vq", "width": 4, "codebook": 8}):
        q = quantize(_signed(100, 12), **kw)
        path = tmp_path / f"{kw['method']}.pt"
        q.save(path)
        back = QuantizedFeatures.load(path)
        assert back.shape == q.shape and back.params == q.params
        assert torch.equal(back.dequantize(), q.dequantize())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sq.pt", "vq.pt"]
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(CarbideError, match="junk.pt is not a readable"):
        QuantizedFeatures.load(tmp_path / "junk.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(CarbideError, match="not a carbide quantized-features file"):
        QuantizedFeatures.load(tmp_path / "other.pt")


def test_degree_cache_serves_the_same_rows():
    x = _signed(50, 16)
    edge_index = torch.tensor([[1, 2, 3, 4, 5, 6], [0, 0, 0, 7, 7, 9]])
    assert degree_order(edge_index, 50)[:3].tolist() == [0, 7, 9]
    q = quantize(x, "sq", bits=4)
    expected = q.gather(torch.arange(50))
    rows = cache_by_degree(q, edge_index, 0.1, "cpu")
    assert rows.tolist()[:3] == [0, 7, 9] and len(rows) == 5
    idx = torch.tensor([0, 1, 7, 49, 9, 9])
    assert torch.equal(q.gather(idx, device="cpu"), expected[idx])
    with pytest.raises(InvalidConfigError, match="fraction"):
        cache_by_degree(q, edge_index, 1.5, "cpu")


def test_levels_table_layout():
    p = sq_fit(_signed(), 2)
    levels = sq_levels(p)
    assert levels.shape == (4,)
    assert bool((levels[:2] > 0).all()) and torch.equal(levels[2:], -levels[:2])


@pytest.mark.parametrize("bits", [1, 2, 4, 8, 16])
def test_fused_sq_decode_equals_the_reference_decoder(bits):
    x = _signed(64, 21)
    q = quantize(x, "sq", bits=bits)
    p = sq_fit(x, bits)
    assert torch.equal(q.dequantize(), sq_decode(sq_encode(x, p), p))


def test_fused_vq_decode_equals_the_reference_decoder():
    from carbide.compression.featquant import vq_decode

    q = quantize(_signed(200, 21), "vq", width=8, codebook=32)
    assert torch.equal(q.dequantize(), vq_decode(q.codes, q.table, 21))

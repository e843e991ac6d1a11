"""Vector quantization (VQ) of BiFeat, product-quantization style.

Paper: Ma et al., arXiv 2207.14696. The D features are split into ``S = ceil(D / width)``
sub-vectors (the last one zero-padded to ``width``: padding columns are dropped on decode);
each sub-space gets a codebook of ``L`` centres learned by k-means with **cosine assignment**
and mean-of-members centres (as the authors' code), fitted on a row sample; then every row is
assigned. One code per sub-vector: uint8 for ``L <= 256``, int16 for ``L <= 32768``.

Sub-vectors that are exactly zero have no direction: when a sub-space holds any, its last
centre is reserved as an exact zero and they are coded to it (the authors keep a small-norm
"rim" centre for the same reason).

The k-means runs in faiss (``kmeans="faiss"``, the default; faiss-cpu from the ``graph``
extra): spherical k-means on the unit sub-vectors (L2 between unit vectors ranks as cosine),
then each centre is set to the mean of its members' raw sub-vectors, as the authors' code.
``kmeans="torch"`` is the former pure-torch fitter (cosine Lloyd with k-means++ seeding, all
sub-spaces batched), kept for machines without faiss; it is slow for large codebooks (its
k-means++ is sequential over the centres).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...exceptions import InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["VQ_KMEANS", "VQ_MAX_CODEBOOK", "vq_assign", "vq_decode", "vq_encode", "vq_fit"]

VQ_MAX_CODEBOOK = 32768
VQ_KMEANS = ("faiss", "torch")
_BLOCK_BYTES = 64 << 20  # similarity blocks of at most 64 MB


def _subvectors(x: torch.Tensor, width: int) -> torch.Tensor:
    """float ``(N, D)`` -> ``(S, N, width)`` with the last sub-vector zero-padded."""
    import torch

    n, d = x.shape
    s = -(-d // width)
    padded = torch.zeros((n, s * width), dtype=torch.float32, device=x.device)
    padded[:, :d] = x
    return padded.view(n, s, width).transpose(0, 1)


def vq_assign(
    sub: torch.Tensor, centres: torch.Tensor, zero_centre: torch.Tensor
) -> torch.Tensor:
    """Cosine assignment of sub-vectors to centres.

    Args:
        sub: float ``(S, N, w)``.
        centres: float ``(S, L, w)``.
        zero_centre: bool ``(S,)``; where true, centre ``L - 1`` is the reserved exact zero:
            only zero sub-vectors go there, and they go nowhere else.

    Returns:
        int64 ``(S, N)`` centre indices.
    """
    import torch

    s, n, _ = sub.shape
    big_l = centres.shape[1]
    cn = centres / centres.norm(dim=2, keepdim=True).clamp_min(1e-12)
    block = max(1, _BLOCK_BYTES // max(1, s * big_l * 4))
    out = torch.empty((s, n), dtype=torch.long, device=sub.device)
    for start in range(0, n, block):
        xs = sub[:, start : start + block]
        norms = xs.norm(dim=2)
        sims = torch.bmm(xs / norms.unsqueeze(2).clamp_min(1e-12), cn.transpose(1, 2))
        sims[zero_centre, :, big_l - 1] = -torch.inf
        best = sims.argmax(dim=2)
        zero_rows = (norms == 0) & zero_centre.unsqueeze(1)
        best[zero_rows] = big_l - 1
        out[:, start : start + block] = best
    return out


def _init_plus_plus(sub: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding with the cosine distance ``1 - cos``, all sub-spaces at once.

    Random seeding often puts two centres in one cluster and none in another, a local
    minimum Lloyd's iterations do not leave; D^2 sampling avoids most of those.
    """
    import torch

    s, m, width = sub.shape
    unit = sub / sub.norm(dim=2, keepdim=True).clamp_min(1e-12)
    nonzero = (sub.norm(dim=2) > 0).float()
    rows = torch.arange(s)
    first = torch.multinomial(nonzero + 1e-12, 1, generator=gen).squeeze(1)
    chosen = [first]
    best = torch.full((s, m), -1.0)
    for _ in range(1, k):
        last = unit[rows, chosen[-1]]  # (S, w)
        best = torch.maximum(best, torch.bmm(unit, last.unsqueeze(2)).squeeze(2))
        weight = (1.0 - best).clamp_min(0.0).square() * nonzero
        # a sub-space whose points are all covered falls back to uniform picks
        weight += (weight.sum(dim=1, keepdim=True) == 0).float()
        chosen.append(torch.multinomial(weight, 1, generator=gen).squeeze(1))
    idx = torch.stack(chosen, dim=1)  # (S, k)
    return torch.gather(sub, 1, idx.unsqueeze(2).expand(s, k, width)).clone()


def vq_fit(
    x: torch.Tensor,
    width: int,
    codebook: int,
    *,
    sample_rows: int | None = None,
    iters: int = 20,
    seed: int = 0,
    kmeans: str = "faiss",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Learn the codebooks.

    Args:
        x: float ``(N, D)``.
        width: sub-vector width ``w``.
        codebook: centres per sub-space ``L`` (at most 32768 and at most ``N``).
        sample_rows: rows the k-means sees (default ``min(N, max(32 * L, 10_000))``).
        iters: Lloyd iterations at most (stops early when no assignment changes).
        seed: seed of the sample and the initial centres (the same seed, data and thread
            count give the same codebooks).
        kmeans: ``"faiss"`` (default; needs faiss-cpu) or ``"torch"`` (the slower pure-torch
            fitter, for machines without faiss).

    Returns:
        ``(codebooks, zero_centre)``: float32 ``(S, L, w)`` and bool ``(S,)``.
    """
    import torch

    n = x.shape[0]
    if not isinstance(width, int) or width < 1:
        raise InvalidConfigError(f"VQ width must be a positive integer, got {width!r}")
    if not isinstance(codebook, int) or not 2 <= codebook <= VQ_MAX_CODEBOOK:
        raise InvalidConfigError(
            f"VQ codebook size must be an integer in [2, {VQ_MAX_CODEBOOK}], got {codebook!r}"
        )
    if codebook > n:
        raise InvalidConfigError(
            f"VQ codebook of {codebook} centres is larger than the {n} rows to quantize; "
            f"use a codebook of at most {n} (far fewer, for a useful fit)"
        )
    if kmeans not in VQ_KMEANS:
        raise InvalidConfigError(f"unknown VQ k-means {kmeans!r}; choose one of {VQ_KMEANS}")
    gen = torch.Generator().manual_seed(seed)
    m = min(n, sample_rows if sample_rows is not None else max(32 * codebook, 10_000))
    if m < codebook:
        raise InvalidConfigError(f"sample_rows={m} is smaller than the codebook ({codebook})")
    rows = torch.randperm(n, generator=gen)[:m]
    sub = _subvectors(x[rows].float(), width)  # (S, m, w)
    s = sub.shape[0]
    zero_centre = (sub.norm(dim=2) == 0).any(dim=1)
    if kmeans == "faiss":
        return _faiss_fit(sub, codebook, zero_centre, iters, seed), zero_centre
    centres = _init_plus_plus(sub, codebook, gen)
    centres[zero_centre, codebook - 1] = 0.0
    assign = None
    for _ in range(iters):
        new = vq_assign(sub, centres, zero_centre)
        if assign is not None and torch.equal(new, assign):
            break
        assign = new
        sums = torch.zeros_like(centres)
        sums.scatter_add_(1, assign.unsqueeze(2).expand(-1, -1, width), sub)
        counts = torch.zeros((s, codebook), dtype=torch.float32)
        counts.scatter_add_(1, assign, torch.ones_like(assign, dtype=torch.float32))
        filled = counts > 0
        centres = torch.where(filled.unsqueeze(2), sums / counts.clamp_min(1).unsqueeze(2), centres)
        # an empty centre restarts at a random sample row, so no code is wasted
        empty = (~filled).nonzero()
        if empty.numel():
            pick = torch.randint(m, (empty.shape[0],), generator=gen)
            centres[empty[:, 0], empty[:, 1]] = sub[empty[:, 0], pick]
        centres[zero_centre, codebook - 1] = 0.0
    return centres.contiguous(), zero_centre


def _faiss_fit(sub: torch.Tensor, codebook: int, zero_centre: torch.Tensor, iters: int,
               seed: int) -> torch.Tensor:
    """faiss spherical k-means per sub-space, centres = raw means of the members."""
    import numpy as np
    import torch

    from ..._imports import optional_import

    faiss = optional_import("faiss", "graph", purpose="VQ k-means")
    faiss.omp_set_num_threads(torch.get_num_threads())
    s, m, width = sub.shape
    centres = torch.zeros((s, codebook, width), dtype=torch.float32)
    for i in range(s):
        k = codebook - int(zero_centre[i])
        pts = sub[i]
        norms = pts.norm(dim=1)
        data = pts[norms > 0]
        if data.shape[0] == 0:
            continue  # an all-zero sub-space: every code decodes to zero
        unit = (data / norms[norms > 0].unsqueeze(1)).numpy().astype(np.float32)
        unit = np.ascontiguousarray(unit)
        if data.shape[0] <= k:  # no more distinct points than centres: each is a centre
            centres[i, : data.shape[0]] = data
            centres[i, data.shape[0] : k] = data[0]
            continue
        km = faiss.Kmeans(width, k, niter=max(1, iters), seed=seed * 1009 + i, spherical=True,
                          min_points_per_centroid=1, max_points_per_centroid=m, verbose=False)
        km.train(unit)
        _, assign = km.index.search(unit, 1)
        assign = torch.from_numpy(assign.reshape(-1).astype(np.int64))
        sums = torch.zeros((k, width)).index_add_(0, assign, data)
        counts = torch.bincount(assign, minlength=k).float().unsqueeze(1)
        # an empty cluster keeps faiss's unit centroid, scaled to the mean norm
        fallback = torch.from_numpy(km.centroids) * norms[norms > 0].mean()
        centres[i, :k] = torch.where(counts > 0, sums / counts.clamp_min(1), fallback)
    return centres.contiguous()


def vq_encode(
    x: torch.Tensor,
    codebooks: torch.Tensor,
    zero_centre: torch.Tensor,
    *,
    chunk_rows: int = 65536,
) -> torch.Tensor:
    """Codes of every row: ``(N, S)``, uint8 for ``L <= 256`` else int16."""
    import torch

    s, big_l, width = codebooks.shape
    dtype = torch.uint8 if big_l <= 256 else torch.int16
    out = torch.empty((x.shape[0], s), dtype=dtype)
    for start in range(0, x.shape[0], chunk_rows):
        sub = _subvectors(x[start : start + chunk_rows].float(), width)
        out[start : start + chunk_rows] = vq_assign(sub, codebooks, zero_centre).T.to(dtype)
    return out


def vq_decode(codes: torch.Tensor, codebooks: torch.Tensor, dim: int) -> torch.Tensor:
    """Decode ``(N, S)`` codes to float32 ``(N, dim)`` with one fused lookup.

    The plain reference decoder; ``QuantizedFeatures.decode`` is the fast path (reused int32
    index buffer, decoding into ``out``), and a test holds the two equal.
    """
    import torch

    s, big_l, width = codebooks.shape
    flat = codebooks.reshape(s * big_l, width)
    offsets = torch.arange(s, device=codes.device, dtype=torch.long) * big_l
    idx = codes.long() + offsets
    return torch.nn.functional.embedding(idx, flat).reshape(codes.shape[0], s * width)[:, :dim]

"""The NASRec supernet, its index-run subnets and the exported stand-alone subnet module.

One :class:`RecSupernet` holds max-width weights for every operator of every block of a
:class:`~carbide.nas.rec.space.RecSpace`. Every input-reading weight spans the block's *input
layout*: the stem's segment followed by one max-width segment per earlier block (dense: ``D0``
then ``Dmax`` each; sparse tokens: ``N0`` then ``Tmax + m`` each, the ``m`` merger tokens at
local offset ``Tmax``). A subnet uses the columns of its chosen inputs and the leading rows of
its widths (prefix slicing, as the official ``ElasticLinear`` does).

Two ways to run an architecture on the same weights:

- :meth:`RecSupernet.forward` (**index run**): only the chosen operators of the blocks the
  output depends on are computed, each input-reading matmul summed over the chosen input pieces
  with weight *views* ``W[:out, off:off + width]``; a step costs what the subnet costs.
- :meth:`RecSupernet.forward_masked` (**masked run-everything**, the reference and the
  warm-up's full supernet): every operator of every block at max width on zero-padded
  concatenations of all candidate inputs, unchosen operators/inputs multiplied by zero and
  widths masked. With ``arch=None`` every mask is one (the full supernet of the warm-up).

The two agree to float rounding on the same weights (tested), because zero-padded inputs
contribute nothing to a matmul and widths are prefixes. :func:`export_subnet` copies a
subnet's slices into a compact :class:`RecSubnet` (a plain ``nn.Module`` with its own
parameters) that computes the same function; :meth:`RecSubnet.reset_parameters` turns it into
a freshly initialized stand-alone model for training from scratch.

Shapes: batches are dicts with ``sparse`` int64 ``(B, S)``, ``dense`` float32 ``(B, D)``,
``multi_hot`` int64 ``(B, M, L)``; models return logits ``(B,)``.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from ...exceptions import InvalidConfigError
from .space import RecArch, RecBlock, RecSpace

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["CTRStem", "RecSubnet", "RecSupernet", "export_subnet"]


def _torch():
    import torch

    return torch


def _nn():
    from torch import nn

    return nn


# --------------------------------------------------------------------------- pure functions


def _columns(pieces, weight, out: int, axis: int):
    torch = _torch()
    if len(pieces) == 1:
        x, off = pieces[0]
        return x, weight[:out, off:off + x.shape[axis]]
    xs = torch.cat([x for x, _ in pieces], dim=axis)
    cols = torch.cat([weight[:out, off:off + x.shape[axis]] for x, off in pieces], dim=1)
    return xs, cols


def seg_linear(pieces, weight, bias, out: int):
    """``sum_j x_j @ W[:out, off_j:off_j + w_j].T (+ b[:out])``: a linear layer over a
    segmented input layout, as one matmul of the concatenated pieces with the gathered
    weight columns. ``pieces``: list of ``(x (B, w_j), off_j)``."""
    x, w = _columns(pieces, weight, out, -1)
    y = x @ w.T
    return y if bias is None else y + bias[:out]


def seg_tokens(pieces, weight, out: int):
    """A linear over the token axis: ``sum_j W[:out, off_j:off_j + n_j] @ S_j``; ``pieces``:
    list of ``(S (B, n_j, E), off_j)``; returns ``(B, out, E)``."""
    s, w = _columns(pieces, weight, out, 1)
    b, n, e = s.shape
    # one GEMM: (B * E, n) @ (n, out), rather than B broadcast matmuls
    y = s.transpose(1, 2).reshape(b * e, n) @ w.T
    return y.view(b, e, -1).transpose(1, 2)


def fm_interaction(pieces):
    """FM second-order term over all tokens of all pieces: ``0.5 ((sum v)^2 - sum v^2)``,
    ``(B, E)`` (Rendle 2010; NASRec's sparse-to-dense interaction)."""
    total = sum(s.sum(1) for s, _ in pieces)
    squares = sum((s * s).sum(1) for s, _ in pieces)
    return 0.5 * (total * total - squares)


def pairwise_dots(tokens):
    """Upper-triangle pairwise dot products of ``(B, n, E)`` tokens: ``(B, n (n - 1) / 2)``."""
    torch = _torch()
    n = tokens.shape[1]
    iu = torch.triu_indices(n, n, offset=1, device=tokens.device)
    gram = torch.bmm(tokens, tokens.transpose(1, 2))
    return gram[:, iu[0], iu[1]]


def fit_width(x, width: int):
    """Truncate or zero-pad the last axis of ``x`` to ``width``."""
    from torch.nn import functional as F  # noqa: N812

    w = x.shape[-1]
    if w == width:
        return x
    return x[..., :width] if w > width else F.pad(x, (0, width - w))


# --------------------------------------------------------------------------- modules


def _uniform_(param, fan_in: int, name: str = "") -> None:
    if name.startswith("ln"):  # layer-norm affine: weight 1, bias 0
        with _torch().no_grad():
            param.fill_(1.0 if name.endswith("_w") else 0.0)
        return
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    with _torch().no_grad():
        param.uniform_(-bound, bound)


def CTRStem(vocab_sizes, bag_sizes, num_dense: int, embedding_dim: int = 16):  # noqa: N802
    """Input stem: one ``nn.Embedding`` per sparse field, one ``nn.EmbeddingBag`` (mean,
    padding index 0) per multi-hot field -- the layout of torchrec's
    ``EmbeddingBagCollection`` -- and the dense features (a zero column when there are none).

    Returns a module mapping a batch to ``(dense (B, max(D, 1)), tokens (B, S + M, E))``.
    """
    torch = _torch()
    nn = _nn()

    class _Stem(nn.Module):
        def __init__(self):
            super().__init__()
            if not len(vocab_sizes) + len(bag_sizes):
                raise InvalidConfigError(
                    "NASRec needs at least one sparse or multi-hot field (its sparse tokens)"
                )
            self.tables = nn.ModuleList(nn.Embedding(int(v), embedding_dim)
                                        for v in vocab_sizes)
            self.bags = nn.ModuleList(nn.EmbeddingBag(int(v), embedding_dim, mode="mean",
                                                      padding_idx=0) for v in bag_sizes)
            self.num_dense = int(num_dense)
            self.reset_parameters()

        @property
        def dense_width(self) -> int:
            return max(self.num_dense, 1)

        @property
        def num_tokens(self) -> int:
            return len(self.tables) + len(self.bags)

        def reset_parameters(self) -> None:
            with torch.no_grad():
                for t in list(self.tables) + list(self.bags):
                    t.weight.uniform_(-0.05, 0.05)
                for b in self.bags:
                    b.weight[0].zero_()

        def forward(self, batch):
            sparse, dense = batch["sparse"], batch["dense"]
            toks = [t(sparse[:, j]) for j, t in enumerate(self.tables)]
            toks += [b(batch["multi_hot"][:, m]) for m, b in enumerate(self.bags)]
            tokens = torch.stack(toks, dim=1)
            if self.num_dense == 0:
                dense = tokens.new_zeros(tokens.shape[0], 1)
            return dense, tokens

    return _Stem()


def _dot_tokens(max_dense: int) -> int:
    # The official DotProduct projects the token axis to round(sqrt(2 * max_dims)) tokens.
    return max(1, round(math.sqrt(2 * max_dense)))


def _param_shapes(space: RecSpace, din: int, nin: int) -> dict[str, tuple[tuple[int, ...], int]]:
    """Parameter name -> (shape, fan_in) of one supernet block with input widths din/nin."""
    e, dmax, tmax = space.embedding_dim, space.max_dense, space.max_sparse
    k = _dot_tokens(dmax)
    shapes: dict[str, tuple[tuple[int, ...], int]] = {}
    if "fc" in space.dense_ops:
        shapes.update(fc_w=((dmax, din), din), fc_b=((dmax,), din))
    if "gating" in space.dense_ops:
        shapes.update(g1_w=((dmax, din), din), g1_b=((dmax,), din),
                      g2_w=((dmax, din), din), g2_b=((dmax,), din))
    if "dot" in space.dense_ops:
        pairs = (k + 1) * k // 2
        shapes.update(dp_w=((e, din), din), dp_b=((e,), din), dtok_w=((k, nin), nin),
                      dout_w=((dmax, pairs), pairs), dout_b=((dmax,), pairs))
    if "efc" in space.sparse_ops:
        shapes.update(efc_w=((tmax, nin), nin))
    if "attn" in space.sparse_ops:
        shapes.update(atok_w=((tmax, nin), nin))
    # Layer norms keep stacked blocks in range (the official use_layernorm): the dense one
    # normalizes the first d entries with prefix-sliced affine parameters.
    shapes.update(ln_w=((dmax,), 0), ln_b=((dmax,), 0), lns_w=((e,), 0), lns_b=((e,), 0))
    if space.interactions:
        m = space.merger_tokens
        shapes.update(fm_w=((dmax, e), e), fm_b=((dmax,), e),
                      d2s_w=((m * e, dmax), dmax), d2s_b=((m * e,), dmax))
    return shapes


def _transformer(e: int):
    nn = _nn()
    return nn.TransformerEncoderLayer(d_model=e, nhead=2 if e % 2 == 0 else 1,
                                      dim_feedforward=4 * e, dropout=0.0, batch_first=True)


class _Net:
    """Shared index-run forward over ``self.param(i, name)`` and piece offsets."""

    space: RecSpace

    def _dense(self, i: int, op: str, d: int, dense_in, sparse_in):
        """Dense operator ``op`` of block ``i`` at width ``d`` -> ``(B, d)``."""
        torch = _torch()
        p = lambda name: self.param(i, name)  # noqa: E731
        if op == "fc":
            return torch.relu(seg_linear(dense_in, p("fc_w"), p("fc_b"), d))
        if op == "gating":
            return seg_linear(dense_in, p("g1_w"), p("g1_b"), d) * torch.sigmoid(
                seg_linear(dense_in, p("g2_w"), p("g2_b"), d))
        if op == "sum":
            return sum(fit_width(x, d) for x, _ in dense_in)
        z = seg_linear(dense_in, p("dp_w"), p("dp_b"), self.space.embedding_dim)
        s = seg_tokens(sparse_in, p("dtok_w"), p("dtok_w").shape[0])
        dots = pairwise_dots(torch.cat([z[:, None, :], s], dim=1))
        return torch.relu(dots @ p("dout_w")[:d].T + p("dout_b")[:d])

    def _sparse(self, i: int, op: str, t: int, sparse_in):
        """Sparse operator ``op`` of block ``i`` with ``t`` output tokens -> ``(B, t, E)``."""
        if op == "efc":
            return seg_tokens(sparse_in, self.param(i, "efc_w"), t)
        return self.attn(i)(seg_tokens(sparse_in, self.param(i, "atok_w"), t))

    def _fm(self, i: int, d: int, sparse_in):
        return fm_interaction(sparse_in) @ self.param(i, "fm_w")[:d].T + self.param(i, "fm_b")[:d]

    def _merge(self, i: int, h):
        w = self.param(i, "d2s_w")
        merged = seg_linear([(h, 0)], w, self.param(i, "d2s_b"), w.shape[0])
        return merged.view(h.shape[0], self.space.merger_tokens, self.space.embedding_dim)

    def _norm_dense(self, i: int, h, d: int):
        from torch.nn import functional as F  # noqa: N812

        return F.layer_norm(h[:, :d], (d,), self.param(i, "ln_w")[:d], self.param(i, "ln_b")[:d])

    def _norm_tokens(self, i: int, u):
        from torch.nn import functional as F  # noqa: N812

        e = self.space.embedding_dim
        return F.layer_norm(u, (e,), self.param(i, "lns_w"), self.param(i, "lns_b"))

    def _block(self, i: int, blk: RecBlock, dense_in, sparse_in):
        """One block: ``dense_in``/``sparse_in`` are lists of ``(tensor, column offset)``.
        Returns the dense output ``(B, d)`` and the sparse pieces (tensor, local offset)."""
        h = self._dense(i, blk.dense_op, blk.dense_dim, dense_in, sparse_in)
        if blk.fm:
            h = h + self._fm(i, blk.dense_dim, sparse_in)
        h = self._norm_dense(i, h, blk.dense_dim)
        u = self._norm_tokens(i, self._sparse(i, blk.sparse_op, blk.sparse_dim, sparse_in))
        pieces = [(u, 0)]
        if blk.d2s:
            pieces.append((self._merge(i, h), self.space.max_sparse))
        return h, pieces

    def _index_forward(self, arch: RecArch, dense0, tokens0, features: bool = False):
        dense_out = {0: dense0}
        sparse_out = {0: [(tokens0, 0)]}
        for i in arch.needed_blocks():
            blk = arch.blocks[i - 1]
            dense_in = [(dense_out[j], self.dense_offset(i, j)) for j in blk.dense_in]
            sparse_in = [(s, self.token_offset(i, j, lo)) for j in blk.sparse_in
                         for s, lo in sparse_out[j]]
            dense_out[i], sparse_out[i] = self._block(i, blk, dense_in, sparse_in)
        last = len(arch.blocks)
        e = self.space.embedding_dim
        feats = [(dense_out[last], 0)]
        feats += [(s.flatten(1), self.final_offset(lo * e)) for s, lo in sparse_out[last]]
        if features:
            return feats
        return seg_linear(feats, self.final_w, self.final_b, 1).squeeze(-1)


def _layout(space: RecSpace, d0: int, n0: int, i: int) -> tuple[list[int], list[int]]:
    """Column offsets of each source block 0..i-1 in block i's dense and token layouts."""
    m = space.merger_tokens if space.interactions else 0
    dense = [0] + [d0 + space.max_dense * j for j in range(i - 1)]
    tok = [0] + [n0 + (space.max_sparse + m) * j for j in range(i - 1)]
    return dense, tok


def _supernet_class():
    torch = _torch()
    nn = _nn()

    class RecSupernet(_Net, nn.Module):
        """Weight-sharing supernet over a :class:`RecSpace` (see the module docstring).

        Args:
            space: the search space.
            vocab_sizes, bag_sizes, num_dense: the data's stem (``TabularCTR`` fields).
            seed: seed of the initial weights.
        """

        def __init__(self, space: RecSpace, vocab_sizes, bag_sizes, num_dense: int,
                     seed: int = 0):
            nn.Module.__init__(self)
            torch.manual_seed(seed)
            self.space = space
            self.stem = CTRStem(vocab_sizes, bag_sizes, num_dense, space.embedding_dim)
            self.d0, self.n0 = self.stem.dense_width, self.stem.num_tokens
            m = space.merger_tokens if space.interactions else 0
            self.blocks = nn.ModuleList()
            self.attns = nn.ModuleList()
            self._dense_off, self._tok_off = [], []
            for i in range(1, space.num_blocks + 1):
                dense_off, tok_off = _layout(space, self.d0, self.n0, i)
                self._dense_off.append(dense_off)
                self._tok_off.append(tok_off)
                din = self.d0 + space.max_dense * (i - 1)
                nin = self.n0 + (space.max_sparse + m) * (i - 1)
                block = nn.ParameterDict()
                for name, (shape, fan_in) in _param_shapes(space, din, nin).items():
                    block[name] = nn.Parameter(torch.empty(shape))
                    _uniform_(block[name], fan_in, name)
                self.blocks.append(block)
                self.attns.append(_transformer(space.embedding_dim) if "attn" in space.sparse_ops
                                  else nn.Identity())
            fan = space.max_dense + (space.max_sparse + m) * space.embedding_dim
            self.final_w = nn.Parameter(torch.empty(1, fan))
            self.final_b = nn.Parameter(torch.zeros(1))
            _uniform_(self.final_w, fan)

        # accessors used by _Net
        def param(self, i: int, name: str):
            return self.blocks[i - 1][name]

        def attn(self, i: int):
            return self.attns[i - 1]

        def dense_offset(self, i: int, j: int) -> int:
            return self._dense_off[i - 1][j]

        def token_offset(self, i: int, j: int, local: int) -> int:
            return self._tok_off[i - 1][j] + local

        def final_offset(self, local: int) -> int:
            return self.space.max_dense + local

        def forward(self, batch, arch: RecArch | None = None):
            """Index run of ``arch`` (``None``: the masked full supernet). Logits ``(B,)``."""
            if arch is None:
                return self.forward_masked(batch, None)
            dense0, tokens0 = self.stem(batch)
            return self._index_forward(arch, dense0, tokens0)

        def forward_masked(self, batch, arch: RecArch | None = None):
            """Masked run-everything of ``arch`` (``None``: all masks one, the full
            supernet). Every op of every block runs at max width; logits ``(B,)``."""
            space = self.space
            dmax, tmax, _e = space.max_dense, space.max_sparse, space.embedding_dim
            m = space.merger_tokens if space.interactions else 0
            dense0, tokens0 = self.stem(batch)
            dense_out, sparse_out = [dense0], [tokens0]
            for i in range(1, space.num_blocks + 1):
                blk = arch.blocks[i - 1] if arch is not None else None

                def on(flag: bool, blk: RecBlock | None = blk) -> float:
                    return 1.0 if blk is None or flag else 0.0

                dense_masked = [dense_out[j] * on(j in blk.dense_in if blk else True)
                                for j in range(i)]
                dense_in = [(torch.cat(dense_masked, dim=1), 0)]
                sparse_in = [(torch.cat([
                    sparse_out[j] * on(j in blk.sparse_in if blk else True)
                    for j in range(i)], dim=1), 0)]
                h = 0.0
                for op in space.dense_ops:
                    # "sum" adds the (masked) inputs, so it sees them separately.
                    args = [(x, 0) for x in dense_masked] if op == "sum" else dense_in
                    h = h + on(blk is not None and blk.dense_op == op) * self._dense(
                        i, op, dmax, args, sparse_in)
                if m:
                    h = h + on(blk is not None and blk.fm) * self._fm(i, dmax, sparse_in)
                width = dmax if blk is None else blk.dense_dim
                h = fit_width(self._norm_dense(i, h, width), dmax)
                t = tmax if blk is None else blk.sparse_dim
                u = 0.0
                for op in space.sparse_ops:
                    # attention mixes tokens, so its width is cut before it, then padded
                    ut = self._norm_tokens(i, self._sparse(i, op, t, sparse_in))
                    u = u + on(blk is not None and blk.sparse_op == op) * fit_width(
                        ut.transpose(1, 2), tmax).transpose(1, 2)
                parts = [u]
                if m:
                    parts.append(on(blk is not None and blk.d2s) * self._merge(i, h))
                dense_out.append(h)
                sparse_out.append(torch.cat(parts, dim=1))
            feats = torch.cat([dense_out[-1], sparse_out[-1].flatten(1)], dim=1)
            return (feats @ self.final_w.T + self.final_b).squeeze(-1)

    return RecSupernet


def RecSupernet(space: RecSpace, vocab_sizes, bag_sizes, num_dense: int,  # noqa: N802
                seed: int = 0):
    """Build a :class:`RecSupernet` (an ``nn.Module``; see the module docstring)."""
    return _supernet_class()(space, vocab_sizes, bag_sizes, num_dense, seed)


# --------------------------------------------------------------------------- export


def _compact_plan(supernet, arch: RecArch) -> dict[str, Any]:
    """For each needed block: the columns of each input piece in the supernet and their
    compact offsets; and the same for the final layer."""
    space = supernet.space
    m, e = space.merger_tokens, space.embedding_dim
    dense_w = {0: supernet.d0}
    pieces = {0: [(0, supernet.n0)]}
    plan: dict[str, Any] = {"blocks": {}}
    for i in arch.needed_blocks():
        blk = arch.blocks[i - 1]
        dcols, doff, pos = [], {}, 0
        for j in blk.dense_in:
            off = supernet.dense_offset(i, j)
            dcols.append((off, dense_w[j]))
            doff[j] = pos
            pos += dense_w[j]
        tcols, toff, pos = [], {}, 0
        for j in blk.sparse_in:
            for lo, n in pieces[j]:
                tcols.append((supernet.token_offset(i, j, lo), n))
                toff[(j, lo)] = pos
                pos += n
        plan["blocks"][i] = {"dense_cols": dcols, "dense_off": doff, "tok_cols": tcols,
                             "tok_off": toff}
        dense_w[i] = blk.dense_dim
        pieces[i] = [(0, blk.sparse_dim)] + ([(space.max_sparse, m)] if blk.d2s else [])
    last = len(arch.blocks)
    fcols = [(0, arch.blocks[-1].dense_dim)]
    foff, pos = {}, arch.blocks[-1].dense_dim
    for lo, n in pieces[last]:
        fcols.append((supernet.final_offset(lo * e), n * e))
        foff[lo * e] = pos
        pos += n * e
    plan["final_cols"], plan["final_off"] = fcols, foff
    return plan


_DENSE_COLS = ("fc_w", "g1_w", "g2_w", "dp_w")
_TOKEN_COLS = ("dtok_w", "efc_w", "atok_w")


def _used(name: str, blk: RecBlock) -> bool:
    prefix = name.split("_")[0]
    return {"fc": blk.dense_op == "fc", "g1": blk.dense_op == "gating",
            "g2": blk.dense_op == "gating", "dp": blk.dense_op == "dot",
            "dtok": blk.dense_op == "dot", "dout": blk.dense_op == "dot",
            "efc": blk.sparse_op == "efc", "atok": blk.sparse_op == "attn",
            "fm": blk.fm, "d2s": blk.d2s, "ln": True, "lns": True}[prefix]


def _gather(w, cols):
    torch = _torch()
    return torch.cat([w[:, off:off + n] for off, n in cols], dim=1)


def _subnet_class():
    torch = _torch()
    nn = _nn()

    class RecSubnet(_Net, nn.Module):
        """A stand-alone NASRec model: the compact slices of one architecture (only its
        chosen operators, inputs and widths) as ordinary parameters. Build it with
        :func:`export_subnet`; :meth:`reset_parameters` re-initializes it for training
        from scratch. ``forward(batch) -> logits (B,)``."""

        def __init__(self, supernet, arch: RecArch):
            nn.Module.__init__(self)
            self.space = supernet.space
            self.arch = arch
            self.arch_json = arch.to_json()
            self.stem = copy.deepcopy(supernet.stem)
            plan = _compact_plan(supernet, arch)
            self._plan = plan
            self.blocks = nn.ModuleDict()
            self.attns = nn.ModuleDict()
            with torch.no_grad():
                for i, bp in plan["blocks"].items():
                    blk = arch.blocks[i - 1]
                    block = nn.ParameterDict()
                    for name, w in supernet.blocks[i - 1].items():
                        if not _used(name, blk):
                            continue
                        w = w.detach()
                        if name in _DENSE_COLS:
                            w = _gather(w, bp["dense_cols"])
                        elif name in _TOKEN_COLS:
                            w = _gather(w, bp["tok_cols"])
                        elif name == "d2s_w":
                            w = w[:, :blk.dense_dim]
                        rows = {"fc": blk.dense_dim, "g1": blk.dense_dim, "g2": blk.dense_dim,
                                "dout": blk.dense_dim, "fm": blk.dense_dim,
                                "ln": blk.dense_dim,
                                "efc": blk.sparse_dim, "atok": blk.sparse_dim}
                        r = rows.get(name.split("_")[0])
                        if r is not None:
                            w = w[:r]
                        block[name] = nn.Parameter(w.clone().contiguous())
                    self.blocks[str(i)] = block
                    if blk.sparse_op == "attn":
                        self.attns[str(i)] = copy.deepcopy(supernet.attns[i - 1])
                self.final_w = nn.Parameter(_gather(supernet.final_w.detach(),
                                                    plan["final_cols"]).clone())
                self.final_b = nn.Parameter(supernet.final_b.detach().clone())

        def param(self, i: int, name: str):
            return self.blocks[str(i)][name]

        def attn(self, i: int):
            return self.attns[str(i)]

        def dense_offset(self, i: int, j: int) -> int:
            return self._plan["blocks"][i]["dense_off"][j]

        def token_offset(self, i: int, j: int, local: int) -> int:
            return self._plan["blocks"][i]["tok_off"][(j, local)]

        def final_offset(self, local: int) -> int:
            return self._plan["final_off"][local]

        def reset_parameters(self, seed: int = 0) -> RecSubnet:
            """Fresh weights (uniform +-1/sqrt(fan_in) of the compact shapes; embeddings
            +-0.05; transformer blocks rebuilt); returns ``self``."""
            torch.manual_seed(seed)
            self.stem.reset_parameters()
            with torch.no_grad():
                for block in self.blocks.values():
                    for name, w in block.items():
                        if name.endswith("_b"):
                            fan = block[name[:-2] + "_w"].shape[-1]
                        else:
                            fan = w.shape[-1]
                        _uniform_(w, fan, name)
                for key in list(self.attns.keys()):
                    self.attns[key] = _transformer(self.space.embedding_dim)
                _uniform_(self.final_w, self.final_w.shape[1])
                self.final_b.zero_()
            return self

        def forward(self, batch):
            dense0, tokens0 = self.stem(batch)
            return self._index_forward(self.arch, dense0, tokens0)

        def features(self, batch):
            """The last layer's input ``(B, F)``: ``logits = features @ final_w.T + final_b``."""
            dense0, tokens0 = self.stem(batch)
            pieces = self._index_forward(self.arch, dense0, tokens0, features=True)
            return torch.cat([x for x, _ in pieces], dim=1)

    return RecSubnet


def export_subnet(supernet, arch: RecArch):
    """The architecture's slices of ``supernet`` as a plain ``nn.Module`` (:class:`RecSubnet`)
    computing the same logits as ``supernet(batch, arch)``."""
    supernet.space.validate_arch(arch)
    return _subnet_class()(supernet, arch)


def RecSubnet(supernet, arch: RecArch):  # noqa: N802
    """Alias of :func:`export_subnet`."""
    return export_subnet(supernet, arch)

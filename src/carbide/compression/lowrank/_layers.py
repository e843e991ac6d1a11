"""Layers kept in SVD form ``W = U diag(s) V^T`` and trained directly (Yang et al., 2020).

Shapes (``r`` = current rank, equal to the full rank ``min(n, m)`` until pruning):

- :class:`SVDLinear` of ``nn.Linear(in, out)``: ``U (out, r)``, ``s (r,)``, ``V (in, r)``;
  runs as ``x @ V`` then ``(. * s) @ U^T + b``.
- :class:`SVDConv2d`, ``mode="channel"``: ``W`` viewed as ``Cout x (Cin kh kw)``;
  ``U (Cout, r)``, ``V (Cin kh kw, r)``; runs as ``r`` filters of ``kh x kw`` (the layer's
  stride, padding, dilation) then a ``1 x 1`` conv to ``Cout`` (with the bias).
- :class:`SVDConv2d`, ``mode="spatial"``: ``W`` viewed as ``(Cin kh) x (Cout kw)`` with rows
  ``(ci, i)`` and columns ``(co, j)``; ``U (Cin kh, r)``, ``V (Cout kw, r)``; runs as a
  ``kh x 1`` conv to ``r`` channels (stride, padding, dilation along H) then a ``1 x kw`` conv
  to ``Cout`` (along W, with the bias).

The singular values ``s`` may turn negative while training; pruning ranks them by ``|s|``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...exceptions import InvalidConfigError

__all__ = ["MODES", "SVDConv2d", "SVDLinear", "SVDModule"]

#: Decompositions of a conv weight: ``"channel"`` (Cout x Cin k k) and ``"spatial"``
#: ((Cin kh) x (Cout kw)).
MODES: tuple[str, ...] = ("channel", "spatial")


def _factor(matrix: torch.Tensor, init: str, generator: torch.Generator | None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(U, s, V)`` of an ``n x m`` matrix: exact SVD, or random orthonormal factors with the
    matrix's singular values (``init="random"``)."""
    n, m = matrix.shape
    u, s, vh = torch.linalg.svd(matrix.detach().double(), full_matrices=False)
    if init == "random":
        r = s.numel()
        u = torch.linalg.qr(torch.randn(n, r, generator=generator, dtype=torch.float64))[0]
        vh = torch.linalg.qr(torch.randn(m, r, generator=generator, dtype=torch.float64))[0].T
    dtype = matrix.dtype
    return u.to(dtype), s.to(dtype), vh.T.contiguous().to(dtype)


class SVDModule(nn.Module):
    """Common part of the SVD layers: the ``U``, ``s``, ``V`` parameters and rank surgery."""

    U: nn.Parameter
    s: nn.Parameter
    V: nn.Parameter

    def _init_factors(self, matrix: torch.Tensor, init: str,
                      generator: torch.Generator | None) -> None:
        u, s, v = _factor(matrix, init, generator)
        device = matrix.device
        self.U = nn.Parameter(u.to(device))
        self.s = nn.Parameter(s.to(device))
        self.V = nn.Parameter(v.to(device))
        self.full_rank = int(s.numel())

    @property
    def rank(self) -> int:
        """Ranks currently kept."""
        return int(self.s.numel())

    def keep_ranks_(self, index: torch.Tensor) -> None:
        """Keep only the ranks in ``index`` (a 1-D index tensor), physically, in place.

        Parameters are replaced, so an optimizer built before must be rebuilt.
        """
        index = index
        with torch.no_grad():
            self.U = nn.Parameter(self.U[:, index].clone())
            self.s = nn.Parameter(self.s[index].clone())
            self.V = nn.Parameter(self.V[:, index].clone())

    def _factory(self) -> dict:
        return {"device": self.s.device, "dtype": self.s.dtype}

    def matrix(self) -> torch.Tensor:
        """The current ``U diag(s) V^T`` (shape ``(n, m)``)."""
        return (self.U * self.s) @ self.V.T

    def extra_repr(self) -> str:
        return f"rank={self.rank}/{self.full_rank}"


class SVDLinear(SVDModule):
    """An ``nn.Linear`` kept as ``U diag(s) V^T`` (see the module docstring for shapes).

    Args:
        linear: the layer to decompose (its weight gives the factors; it is not kept).
        init: ``"svd"`` (exact factors: same outputs as ``linear``) or ``"random"`` (random
            orthonormal ``U``, ``V``, the weight's singular values).
        generator: random generator for ``init="random"``.
    """

    def __init__(self, linear: nn.Linear, *, init: str = "svd",
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self._init_factors(linear.weight, init, generator)
        self.bias = (nn.Parameter(linear.bias.detach().clone())
                     if linear.bias is not None else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.V.T) * self.s, self.U, self.bias)

    def to_dense_layers(self) -> nn.Sequential:
        """Two plain ``nn.Linear`` of the kept rank (``in -> r -> out``), same outputs."""
        first = nn.Linear(self.in_features, self.rank, bias=False, **self._factory())
        second = nn.Linear(self.rank, self.out_features, bias=self.bias is not None,
                           **self._factory())
        with torch.no_grad():
            first.weight.copy_(self.V.T)
            second.weight.copy_(self.U * self.s)
            if self.bias is not None:
                second.bias.copy_(self.bias)
        return nn.Sequential(first, second)

    def to_dense(self) -> nn.Linear:
        """One plain ``nn.Linear`` with weight ``U diag(s) V^T``."""
        layer = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                          **self._factory())
        with torch.no_grad():
            layer.weight.copy_(self.matrix())
            if self.bias is not None:
                layer.bias.copy_(self.bias)
        return layer

    def low_rank_cheaper(self) -> bool:
        """Whether two thin layers cost fewer multiply-adds than one dense layer."""
        return self.rank * (self.in_features + self.out_features) < (
            self.in_features * self.out_features)


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class SVDConv2d(SVDModule):
    """An ``nn.Conv2d`` (``groups=1``) kept as ``U diag(s) V^T``, channel- or spatial-wise.

    Args:
        conv: the layer to decompose (see :func:`~carbide.compression.lowrank.decompose` for the
            layers it refuses: grouped convs, string padding in spatial mode).
        mode: ``"channel"`` or ``"spatial"`` (module docstring for the shapes).
        init: ``"svd"`` or ``"random"`` as for :class:`SVDLinear`.
        generator: random generator for ``init="random"``.
    """

    def __init__(self, conv: nn.Conv2d, *, mode: str = "channel", init: str = "svd",
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise InvalidConfigError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
        if conv.groups != 1:
            raise InvalidConfigError(
                f"SVDConv2d needs groups=1, got groups={conv.groups}; keep this conv dense")
        self.mode = mode
        self.in_channels = conv.in_channels
        self.out_channels = conv.out_channels
        self.kernel_size = _pair(conv.kernel_size)
        self.stride = _pair(conv.stride)
        self.dilation = _pair(conv.dilation)
        self.padding = conv.padding if isinstance(conv.padding, str) else _pair(conv.padding)
        self.padding_mode = conv.padding_mode
        if isinstance(self.padding, str) and (mode == "spatial" or conv.padding_mode != "zeros"):
            raise InvalidConfigError(
                f"padding={self.padding!r} works only channel-wise with zero padding; give "
                "numeric padding")
        w = conv.weight
        cout, cin, kh, kw = w.shape
        if mode == "channel":
            matrix = w.reshape(cout, cin * kh * kw)
        else:  # rows (ci, i), columns (co, j)
            matrix = w.permute(1, 2, 0, 3).reshape(cin * kh, cout * kw)
        self._init_factors(matrix, init, generator)
        self.bias = nn.Parameter(conv.bias.detach().clone()) if conv.bias is not None else None

    # -- the two thin convs -------------------------------------------------------------------
    def _weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        cout, cin = self.out_channels, self.in_channels
        kh, kw = self.kernel_size
        r = self.rank
        if self.mode == "channel":
            w1 = self.V.T.reshape(r, cin, kh, kw)
            w2 = (self.U * self.s).reshape(cout, r, 1, 1)
        else:
            w1 = self.U.T.reshape(r, cin, kh, 1)
            w2 = (self.V * self.s).reshape(cout, kw, r).permute(0, 2, 1).unsqueeze(2)
        return w1, w2

    def _geometry(self) -> tuple[dict, dict]:
        """Keyword arguments of the first and second conv."""
        if self.mode == "channel":
            return ({"stride": self.stride, "padding": self.padding, "dilation": self.dilation},
                    {})
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        return ({"stride": (sh, 1), "padding": (ph, 0), "dilation": (dh, 1)},
                {"stride": (1, sw), "padding": (0, pw), "dilation": (1, dw)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w1, w2 = self._weights()
        g1, g2 = self._geometry()
        return self._conv(self._conv(x, w1, None, g1), w2, self.bias, g2)

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
              geometry: dict) -> torch.Tensor:
        padding = geometry.get("padding", 0)
        if self.padding_mode != "zeros" and padding not in (0, (0, 0), "valid"):
            # the non-zero padding modes pad explicitly, as nn.Conv2d does
            ph, pw = padding
            x = F.pad(x, (pw, pw, ph, ph), mode=self.padding_mode)
            geometry = {**geometry, "padding": 0}
        return F.conv2d(x, w, b, **geometry)

    # -- export --------------------------------------------------------------------------------
    def to_dense_layers(self) -> nn.Sequential:
        """Two plain ``nn.Conv2d`` of the kept rank, same outputs (an ``nn.Sequential``)."""
        w1, w2 = self._weights()
        g1, g2 = self._geometry()
        kh, kw = self.kernel_size
        k1 = (kh, kw) if self.mode == "channel" else (kh, 1)
        k2 = (1, 1) if self.mode == "channel" else (1, kw)
        first = nn.Conv2d(self.in_channels, self.rank, k1, bias=False,
                          padding_mode=self.padding_mode, **g1, **self._factory())
        second = nn.Conv2d(self.rank, self.out_channels, k2, bias=self.bias is not None,
                           padding_mode=self.padding_mode, **g2, **self._factory())
        with torch.no_grad():
            first.weight.copy_(w1)
            second.weight.copy_(w2)
            if self.bias is not None:
                second.bias.copy_(self.bias)
        return nn.Sequential(first, second)

    def dense_weight(self) -> torch.Tensor:
        """The current weight ``(Cout, Cin, kh, kw)`` rebuilt from the factors."""
        cout, cin = self.out_channels, self.in_channels
        kh, kw = self.kernel_size
        m = self.matrix()
        if self.mode == "channel":
            return m.reshape(cout, cin, kh, kw)
        return m.reshape(cin, kh, cout, kw).permute(2, 0, 1, 3)

    def to_dense(self) -> nn.Conv2d:
        """One plain ``nn.Conv2d`` with the rebuilt weight (same outputs)."""
        layer = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size,
                          stride=self.stride, padding=self.padding, dilation=self.dilation,
                          bias=self.bias is not None, padding_mode=self.padding_mode,
                          **self._factory())
        with torch.no_grad():
            layer.weight.copy_(self.dense_weight())
            if self.bias is not None:
                layer.bias.copy_(self.bias)
        return layer

    def low_rank_cheaper(self) -> bool:
        """Whether the two thin convs hold fewer weights than the dense conv.

        Channel-wise this is also the multiply-add test (both convs run at the output size).
        Spatial-wise the first conv runs at the input width, so with a stride along W the pair
        costs more multiply-adds than its weight count suggests.
        """
        cout, cin = self.out_channels, self.in_channels
        kh, kw = self.kernel_size
        if self.mode == "channel":
            thin = self.rank * (cin * kh * kw + cout)
        else:
            thin = self.rank * (cin * kh + cout * kw)
        return thin < cout * cin * kh * kw

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, mode={self.mode}, rank={self.rank}/{self.full_rank}")

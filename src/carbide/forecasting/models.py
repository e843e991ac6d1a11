"""Forecasting networks over a feature window ``(batch, u, C)`` -> ``(batch,)``.

The paper (arXiv 2103.00092, Sec. V) trains an LSTM with 32 units followed by a linear layer,
Adam (lr 1e-3) and MSE loss; :class:`LSTMRegressor` is that network. :class:`MLPRegressor`
flattens the window; it trains several times faster on a CPU and is what the quick
reproduction uses.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validate import check_int
from ..exceptions import InvalidConfigError

__all__ = ["MODEL_KINDS", "LSTMRegressor", "MLPRegressor", "build_model"]

#: Model names :func:`build_model` knows.
MODEL_KINDS: tuple[str, ...] = ("lstm", "mlp")


class LSTMRegressor(nn.Module):
    """LSTM(hidden) over the window, then a linear layer on the last hidden state.

    Args:
        num_inputs: channels per time step ``C``.
        hidden: LSTM units (the paper: 32).

    Shapes: ``x`` ``(batch, u, C)`` -> ``(batch,)``.
    """

    def __init__(self, num_inputs: int, hidden: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(num_inputs, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1]).squeeze(-1)


class MLPRegressor(nn.Module):
    """A ReLU MLP on the flattened window.

    Args:
        num_inputs: channels per time step ``C``.
        window: window length ``u``.
        hidden: width of each hidden layer.
        layers: number of hidden layers.

    Shapes: ``x`` ``(batch, u, C)`` -> ``(batch,)``.
    """

    def __init__(self, num_inputs: int, window: int, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        dims = [num_inputs * window, *([hidden] * layers)]
        blocks: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        blocks.append(nn.Linear(dims[-1], 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def build_model(kind: str, num_inputs: int, window: int, hidden: int | None = None,
               layers: int = 2) -> nn.Module:
    """``"lstm"`` (default hidden 32) or ``"mlp"`` (default hidden 64, ``layers`` layers)."""
    if kind not in MODEL_KINDS:
        raise InvalidConfigError(f"unknown model {kind!r}; choose one of: "
                                 f"{', '.join(MODEL_KINDS)}")
    check_int("num_inputs", num_inputs, 1)
    check_int("window", window, 1)
    if kind == "lstm":
        return LSTMRegressor(num_inputs, check_int("hidden", hidden or 32, 1))
    return MLPRegressor(num_inputs, window, check_int("hidden", hidden or 64, 1),
                        check_int("layers", layers, 1))

"""Figures without pyplot: no display, no global backend state, safe in threads and CI."""

from __future__ import annotations

from typing import Any

__all__ = ["subplots"]


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = (6.0, 4.0),
             **kwargs: Any):
    """Create a ``matplotlib.figure.Figure`` and its axes (Agg canvas, like ``plt.subplots``).

    Returns:
        ``(fig, axes)``: axes as ``plt.subplots`` returns them (one ``Axes`` or an array).
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes

"""Validated config fields: one place for the "must be an integer >= 1" kind of error."""

from __future__ import annotations

import math

from .exceptions import InvalidConfigError

__all__ = ["check_int", "check_real", "int_list"]


def check_int(name: str, value: object, lo: int) -> int:
    """Return ``value`` if it is an ``int`` (not a bool) ``>= lo``; else ``InvalidConfigError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise InvalidConfigError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


def check_real(name: str, value: object, lo: float, hi: float, *, lo_open: bool = False,
               hi_open: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number in the interval; else raise
    ``InvalidConfigError`` naming the interval (``(`` / ``)`` for open ends)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise InvalidConfigError(f"{name} must be a number in {rng}, got {value!r}")
    return float(value)


def int_list(option: str, value: str, meaning: str) -> tuple[int, ...]:
    """``"4,4,2"`` -> ``(4, 4, 2)``; anything else raises ``InvalidConfigError`` naming
    ``option``, the value, and ``meaning`` (e.g. ``"three counts such as 4,4,2"``).

    Configs call it so that a comma-separated option value can be passed to them as it is.
    """
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise InvalidConfigError(
            f"{option} takes comma-separated integers ({meaning}), got {value!r}") from None

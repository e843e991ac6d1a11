"""Parsers for option values that click has no type for (shared by the system commands)."""

from __future__ import annotations

from ..exceptions import InvalidConfigError

__all__ = ["int_list"]


def int_list(option: str, value: str, meaning: str) -> tuple[int, ...]:
    """``"4,4,2"`` -> ``(4, 4, 2)``; anything else raises ``InvalidConfigError`` naming
    ``option``, the value, and ``meaning`` (e.g. ``"three counts such as 4,4,2"``)."""
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise InvalidConfigError(
            f"{option} takes comma-separated integers ({meaning}), got {value!r}") from None

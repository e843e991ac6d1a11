"""Parsers for option values that click has no type for (they live in :mod:`carbide._validate`,
where the configs that accept ``"4,4,2"`` strings use them too)."""

from __future__ import annotations

from .._validate import int_list

__all__ = ["int_list"]

"""Seeding helpers: one call seeds Python, NumPy and torch."""

from __future__ import annotations

import random

__all__ = ["seed_everything", "torch_generator"]


def seed_everything(seed: int) -> int:
    """Seed ``random``, NumPy (if installed) and torch (if installed) with ``seed``.

    Args:
        seed: a non-negative integer.

    Returns:
        The seed, for logging.
    """
    from ..exceptions import InvalidConfigError

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidConfigError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:
        pass
    else:
        np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:
        pass
    else:
        torch.manual_seed(seed)
    return seed


def torch_generator(seed: int, device: str = "cpu"):
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (for local, explicit randomness)."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen

"""The code packages that training enclaves run: ``fn(name, state, data, recipe, seed) ->
(update float32 (d,), num_samples)``.

:func:`train_client` is the model owner's training code: one client's local SGD of
:mod:`carbide.federated.client`, the same function the plain simulation runs. The others are
small test workloads (a fixed update; one that crashes the enclave before it sends).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["crash_before_send", "fixed_update", "train_client"]


def _import_training_stack() -> None:
    import torch  # noqa: F401

    from .. import client  # noqa: F401


def train_client(name: str, state: np.ndarray, data: dict[str, np.ndarray],
                 recipe: dict[str, Any], seed: int) -> tuple[np.ndarray, int]:
    """Local training of :func:`carbide.federated.client.run_client` on the enclave's data
    (``data = {"x", "y"}``; ``recipe = {"model": ModelSpec, "local": LocalTraining}``)."""
    import torch

    from ..client import ClientTask, run_client

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    task = ClientTask(name, recipe["model"], torch.from_numpy(np.array(state)),
                      torch.from_numpy(data["x"]), torch.from_numpy(data["y"]),
                      recipe["local"], int(seed))
    res = run_client(task)
    return res.update.numpy(), res.num_samples


# the enclave calls this once it holds its data, so the first round does not pay the imports
train_client.warmup = _import_training_stack  # type: ignore[attr-defined]


def fixed_update(name: str, state: np.ndarray, data: dict[str, np.ndarray],
                 recipe: dict[str, Any], seed: int) -> tuple[np.ndarray, int]:
    """Return ``data["update"]`` (and ``data["count"]`` samples): for tests and benchmarks."""
    return data["update"].astype(np.float32), int(data["count"].reshape(-1)[0])


def crash_before_send(name: str, state: np.ndarray, data: dict[str, np.ndarray],
                      recipe: dict[str, Any], seed: int) -> tuple[np.ndarray, int]:
    """Like :func:`fixed_update`, but the enclave process dies (exit 3) when
    ``data["crash_round"]`` equals the round's seed field: a dropout before sending."""
    if int(data["crash_round"].reshape(-1)[0]) == int(recipe.get("round", -1)):
        os._exit(3)
    return fixed_update(name, state, data, recipe, seed)

"""One client's local training, as a self-contained picklable task.

:func:`run_client` is what every backend executes: it rebuilds the model from its spec, loads
the global model's state vector, runs local SGD on the client's data (poisoning some steps if
the client is an attacker in an attack round), and returns the update (local state minus
global state) as a flat vector. All randomness comes from the task's own seed, so the result
does not depend on which process runs it or in which order.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .._validate import check_int, check_real
from .aggregation import flatten, unflatten_
from .attacks import PixelTrigger, poisoned_steps

__all__ = [
    "ClientResult",
    "ClientTask",
    "LocalTraining",
    "Poison",
    "load_state_vector",
    "run_client",
    "state_tensors",
    "state_vector",
]


@dataclass(frozen=True)
class LocalTraining:
    """Local SGD of a client (FedAvg's ``E`` epochs of minibatch SGD, McMahan et al. 2017).

    Args:
        epochs: local epochs per round (1).
        batch_size: minibatch size (32).
        lr: learning rate (0.05).
        momentum: SGD momentum (0; the optimizer is fresh every round).
        weight_decay: L2 penalty (0).
    """

    epochs: int = 1
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        check_int("local epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_real("lr", self.lr, 0.0, 100.0, lo_open=True)
        check_real("momentum", self.momentum, 0.0, 1.0, hi_open=True)
        check_real("weight_decay", self.weight_decay, 0.0, 1.0)


@dataclass(frozen=True)
class Poison:
    """What an attacking client does to its local training this round (see
    :class:`~carbide.federated.attacks.BackdoorAttack`)."""

    trigger: PixelTrigger
    target: int
    fraction: float
    steps: float
    placement: str
    gamma: float = 1.0


@dataclass
class ClientTask:
    """Everything one client needs for one round.

    Attributes:
        client_id: the client's id.
        model: a zero-argument factory of the model (e.g. a
            :class:`~carbide.federated.ModelSpec`), picklable for process backends.
        state: the global model's state vector ``(d,)`` (see :func:`state_vector`).
        x: client images ``(n, C, H, W)`` float32; ``y``: labels ``(n,)`` int64.
        local: the local-training recipe.
        seed: seeds the client's shuffling for this round.
        poison: the attack to run, or ``None`` for honest training.
    """

    client_id: str
    model: Callable[[], nn.Module]
    state: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    local: LocalTraining
    seed: int
    poison: Poison | None = None


@dataclass
class ClientResult:
    """A client's answer: ``update`` ``(d,)`` = local state - global state (scaled by the
    attacker's ``gamma``), its sample count, mean training loss, and seconds spent."""

    client_id: str
    update: torch.Tensor
    num_samples: int
    loss: float
    seconds: float
    malicious: bool


def state_tensors(model: nn.Module) -> list[torch.Tensor]:
    """The model's floating-point state (parameters and float buffers such as batch-norm
    statistics), in ``state_dict`` order: what federated averaging averages."""
    return [t for t in model.state_dict(keep_vars=True).values() if t.is_floating_point()]


def state_vector(model: nn.Module) -> torch.Tensor:
    """The model's floating-point state as one float32 vector ``(d,)``."""
    return flatten(state_tensors(model))


def load_state_vector(model: nn.Module, vector: torch.Tensor) -> None:
    """Copy ``vector`` ``(d,)`` into the model's floating-point state, in place."""
    with torch.no_grad():
        unflatten_(vector, state_tensors(model))


def run_client(task: ClientTask) -> ClientResult:
    """Run one client's local training; see the module docstring."""
    t0 = time.perf_counter()
    model = task.model()
    load_state_vector(model, task.state)
    model.train()
    gen = torch.Generator().manual_seed(task.seed)
    cfg = task.local
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    n = int(task.y.shape[0])
    per_epoch = math.ceil(n / cfg.batch_size)
    poison = task.poison
    plan = (poisoned_steps(per_epoch * cfg.epochs, poison.steps, poison.placement)
            if poison is not None else None)
    losses = []
    step = 0
    for _ in range(cfg.epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, cfg.batch_size):
            idx = order[start:start + cfg.batch_size]
            xb, yb = task.x[idx], task.y[idx]
            if plan is not None and plan[step]:
                k = math.ceil(poison.fraction * len(idx))
                xb = torch.cat([poison.trigger.apply(xb[:k]), xb[k:]])
                yb = torch.cat([torch.full((k,), poison.target, dtype=yb.dtype), yb[k:]])
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
    update = state_vector(model) - task.state
    if poison is not None and poison.gamma != 1.0:
        update.mul_(poison.gamma)
    return ClientResult(task.client_id, update, n, sum(losses) / max(1, len(losses)),
                        time.perf_counter() - t0, poison is not None)

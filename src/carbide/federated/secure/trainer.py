"""Whole Citadel trainings: FedAvg rounds whose aggregation goes through the enclaves.

:class:`CitadelTrainer` reuses :mod:`carbide.federated`: the same model factories
(:class:`~carbide.federated.ModelSpec`), the same client training
(:func:`~carbide.federated.run_client`, run *inside* each training enclave) and the same task
seeds as :class:`~carbide.federated.Simulation`, so with equal seeds a secure run equals plain
FedAvg up to fixed-point error. Every enclave takes part in every round (Citadel's setting:
one enclave per data owner).

Backends: ``"process"`` (enclaves are spawned OS processes, the default), ``"ray"`` (Ray
actors), or ``"inprocess"`` (the same maths in this process through
:class:`~.aggregate.SecureAggregator` plugged into a :class:`~carbide.federated.Simulation`:
no isolation, for large ``n`` on a small machine).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ..._eval import accuracy
from ...exceptions import InvalidConfigError
from ..client import load_state_vector, state_vector
from ..simulation import FLConfig, Simulation
from .aggregate import SecureAggregator, check_round
from .runtime import EnclaveBackend, EnclaveCluster

__all__ = ["TRAINER_BACKENDS", "CitadelTrainer"]

#: Where the enclaves of a :class:`CitadelTrainer` run.
TRAINER_BACKENDS: tuple[str, ...] = ("process", "ray", "inprocess")


class CitadelTrainer:
    """A Citadel training run (Zhang et al., SoCC '21, arXiv 2105.01281).

    Args:
        model: zero-argument picklable model factory (e.g. ``ModelSpec("leaf-cnn", ...)``).
        clients: data owner id -> ``(x (n, C, H, W) float32, y (n,) int64)``; at least 2.
        test: ``(x, y)`` of the model owner's test set.
        config: :class:`~carbide.federated.FLConfig` (``clients_per_round`` is set to the
            number of data owners: all of them train every round).
        scheme: ``"pairwise"`` (default) or ``"admin"`` zero-sum masks.
        fan_in: children per aggregator (4). bits: 32 or 64. clip: clip range (1.0).
        neighbors: pairwise mask neighbours per enclave on a ring shuffled every round
            (even ``k``; ``"auto"``, the default: the smallest even ``k >= log2 n``;
            ``None``: all pairs).
        backend: ``"process"``, ``"ray"``, ``"inprocess"`` or an
            :class:`~.runtime.EnclaveBackend`.
        timeout: seconds a round may go without any message (600).
    """

    def __init__(self, model: Callable[[], nn.Module],
                 clients: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                 test: tuple[torch.Tensor, torch.Tensor], config: FLConfig | None = None, *,
                 scheme: str = "pairwise", fan_in: int = 4, bits: int = 32, clip: float = 1.0,
                 neighbors: int | str | None = "auto",
                 backend: str | EnclaveBackend = "process", timeout: float = 600.0) -> None:
        if isinstance(backend, str) and backend not in TRAINER_BACKENDS:
            raise InvalidConfigError(f"unknown backend {backend!r}; choose one of: "
                                     f"{', '.join(TRAINER_BACKENDS)}")
        check_round(len(clients), fan_in=fan_in)
        base = config or FLConfig()
        self.config = dataclasses.replace(base, clients_per_round=len(clients))
        self.clients = dict(clients)
        self.test = test
        self.model_fn = model
        self.backend_name = backend if isinstance(backend, str) else backend.name
        self.aggregator = SecureAggregator(scheme=scheme, fan_in=fan_in, bits=bits, clip=clip,
                                           seed=None, neighbors=neighbors)
        self.history: list[dict[str, Any]] = []
        self.round = 0
        self._sim: Simulation | None = None
        self._cluster: EnclaveCluster | None = None
        if backend == "inprocess":
            self._sim = Simulation(model, self.clients, test, self.config,
                                   aggregator=self.aggregator)
            self.model, self.state = self._sim.model, self._sim.state
        else:
            torch.manual_seed(self.config.seed)  # the same initial model as Simulation
            self.model = model()
            self.state = state_vector(self.model)
            self._cluster = EnclaveCluster(
                list(self.clients), fan_in=fan_in, scheme=scheme, bits=bits, clip=clip,
                neighbors=neighbors, server_lr=self.config.server_lr, seed=self.config.seed,
                backend=backend, timeout=timeout)
            self._started = False

    def _start(self) -> None:
        assert self._cluster is not None
        self._cluster.start()
        data = {c: {"x": x.numpy(), "y": y.numpy()} for c, (x, y) in self.clients.items()}
        counts = {c: len(y) for c, (_, y) in self.clients.items()}
        self._cluster.provision(data, counts, self.state.numpy(),
                                {"model": self.model_fn, "local": self.config.local})
        self._started = True

    def step(self) -> dict[str, Any]:
        """One round; returns its row (``round``, ``test_acc``, ``round_time_s``, the time
        breakdown, ``participants``, ``dropped``, ``clipped``; the first row of an enclave run
        also ``start_s``: launching, attesting and provisioning the enclaves, which
        ``round_time_s`` leaves out)."""
        start_s = None
        if self._sim is None and not self._started:
            t_start = time.perf_counter()
            self._start()  # launch, attest, provision: reported apart from the round time
            start_s = time.perf_counter() - t_start
        t0 = time.perf_counter()
        if self._sim is not None:
            row = self._sim.step()
            self.state = self._sim.state
            out = {"round": row["round"], "round_time_s": row["round_time_s"],
                   "train_s": row["client_time_s"], "aggregate_s": row["aggregate_time_s"],
                   "participants": len(self.clients), "dropped": [],
                   "clipped": self.aggregator.clipped_total}
            out["test_acc"] = row.get("main_acc")
        else:
            res = self._cluster.run_round(self.round)
            self.state = torch.from_numpy(res.state)
            out = {"round": self.round + 1, "round_time_s": time.perf_counter() - t0,
                   **{k: v for k, v in res.times.items() if k != "round_s"},
                   "participants": len(res.participants), "dropped": res.dropped,
                   "attempts": res.attempts, "clipped": res.clipped}
            if start_s is not None:
                out["start_s"] = start_s
            out["test_acc"] = self.evaluate()
        self.round += 1
        self.history.append(out)
        return out

    def evaluate(self) -> float:
        """Test accuracy of the current global model."""
        load_state_vector(self.model, self.state)
        return accuracy(self.model, *self.test)

    def run(self, rounds: int | None = None) -> list[dict[str, Any]]:
        """Run until ``rounds`` (default ``config.rounds``) rounds are done; the history."""
        total = self.config.rounds if rounds is None else rounds
        try:
            while self.round < total:
                self.step()
        except BaseException:
            self.close()
            raise
        return self.history

    def close(self) -> None:
        """Stop the enclaves."""
        if self._cluster is not None:
            self._cluster.close()

    def state_vector(self) -> np.ndarray:
        """The global model's state ``(d,)`` float32."""
        return self.state.numpy().copy()

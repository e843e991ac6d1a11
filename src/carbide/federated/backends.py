"""Where client tasks run: in-process (the embedded default) or as Ray tasks.

Both take a list of :class:`~carbide.federated.client.ClientTask` and return the
:class:`~carbide.federated.client.ClientResult` list in the same order. Every task carries
its own seed, so the two give the same updates for the same simulation seed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .._imports import optional_import
from ..exceptions import InvalidConfigError
from .client import ClientResult, ClientTask, run_client

__all__ = ["BACKENDS", "LocalBackend", "RayBackend", "connect_ray", "make_backend"]

#: Backend names :func:`make_backend` accepts.
BACKENDS: tuple[str, ...] = ("local", "ray")


class LocalBackend:
    """Runs the clients one after another in this process."""

    name = "local"

    def map(self, tasks: Sequence[ClientTask]) -> list[ClientResult]:
        return [run_client(t) for t in tasks]

    def close(self) -> None:
        """Nothing to release."""


def _run_remote(task: ClientTask, state: Any, x: Any, y: Any) -> ClientResult:
    # Ray resolves the object references passed as top-level arguments to their values.
    return run_client(dataclasses.replace(task, state=state, x=x, y=y))


class RayBackend:
    """Runs each client as a Ray task (one CPU each).

    Client data are put into Ray's object store once per client and referred to afterwards;
    the global state is put once per round.

    Args:
        address: ``None`` starts a local Ray instance (the embedded default of Ray itself);
            ``"auto"`` or ``"ray://host:port"`` joins an existing cluster (``ray.init``).
        num_cpus: CPUs for a local instance (default: all).
        init_kwargs: further ``ray.init`` arguments.

    If Ray is already initialized in this process it is used as it is, and left running
    by :meth:`close`.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 **init_kwargs: Any) -> None:
        ray, self._owns = connect_ray(address, num_cpus=num_cpus, extra="federated",
                                      purpose="the Ray backend", **init_kwargs)
        self._ray = ray
        self._remote = ray.remote(num_cpus=1)(_run_remote)
        self._data: dict[str, tuple[Any, Any, int, int]] = {}

    def _refs(self, task: ClientTask) -> tuple[Any, Any]:
        key = task.client_id
        cached = self._data.get(key)
        # data of a client are fixed for a simulation; re-put if another tensor comes along
        if cached is None or cached[2] != id(task.x) or cached[3] != id(task.y):
            cached = (self._ray.put(task.x), self._ray.put(task.y), id(task.x), id(task.y))
            self._data[key] = cached
        return cached[0], cached[1]

    def map(self, tasks: Sequence[ClientTask]) -> list[ClientResult]:
        if not tasks:
            return []
        import torch

        state_refs: dict[int, Any] = {}
        futures = []
        for t in tasks:
            if id(t.state) not in state_refs:
                state_refs[id(t.state)] = self._ray.put(t.state)
            x_ref, y_ref = self._refs(t)
            light = dataclasses.replace(t, state=torch.empty(0), x=torch.empty(0),
                                        y=torch.empty(0, dtype=torch.long))
            futures.append(self._remote.remote(light, state_refs[id(t.state)], x_ref, y_ref))
        return list(self._ray.get(futures))

    def close(self) -> None:
        """Drop cached data references; shut Ray down if this backend started it."""
        self._data.clear()
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()


def make_backend(name: str, **kwargs: Any) -> LocalBackend | RayBackend:
    """``"local"`` -> :class:`LocalBackend`, ``"ray"`` -> :class:`RayBackend` (``kwargs`` go to
    it, e.g. ``address=``)."""
    if name == "local":
        if kwargs:
            raise InvalidConfigError(f"the local backend takes no options, got {sorted(kwargs)}")
        return LocalBackend()
    if name == "ray":
        return RayBackend(**kwargs)
    raise InvalidConfigError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")


def connect_ray(address: str | None = None, *, num_cpus: int | None = None,
                extra: str = "federated", purpose: str = "Ray", **init_kwargs: Any
                ) -> tuple[Any, bool]:
    """Join the running Ray (or the cluster at ``address``), or start a local one.

    The one place carbide's Ray engines (FL backend, Citadel enclaves, SMLT runtime) connect:
    no dashboard, worker logs not forwarded, ``num_cpus`` only for a local start.

    Returns:
        ``(ray, owns)``: the module, and whether this call started Ray (then the caller shuts
        it down when it closes).
    """
    ray = optional_import("ray", extra, purpose=purpose)
    if ray.is_initialized():
        return ray, False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address is None:
        kwargs["num_cpus"] = num_cpus
    kwargs.update(init_kwargs)
    ray.init(address=address, **kwargs)
    return ray, True

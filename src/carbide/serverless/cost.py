"""What a serverless run costs and how long it takes: AWS Lambda pricing and a time model
calibrated from local runs (SMLT, arXiv 2205.01853, Section IV-C: the scheduler's model).

Pricing (AWS Lambda, x86, us-east-1): $0.0000166667 per GB-second of configured memory
(1 GB = 1024 MB), $0.20 per million requests, memory 128-10240 MB, and CPU share growing
with memory: one vCPU per 1769 MB, at most 6. This machine cannot run 10-200 functions, so
:class:`TimeModel` extrapolates from measured constants (invocation latency, store
bandwidth, compute speed per vCPU); every figure it produces is **modelled**.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from .._validate import check_int, check_real
from ..exceptions import InvalidConfigError
from .aggregation import check_scheme, expected_bytes

__all__ = ["GB_SECOND_PRICE", "MAX_MEMORY_MB", "MB_PER_VCPU", "MIN_MEMORY_MB", "REQUEST_PRICE",
           "VM_PRICE_PER_HOUR", "VM_TYPE", "EpochEstimate", "TimeModel", "check_memory",
           "compute_cost", "lambda_cost", "threads_for_memory", "vcpus", "vm_cost"]

GB_SECOND_PRICE = 0.0000166667
REQUEST_PRICE = 0.20 / 1_000_000
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10240
MB_PER_VCPU = 1769
MAX_VCPUS = 6
#: The on-demand VM the DDP baseline is billed at (AWS us-east-1 Linux on-demand list price).
VM_TYPE = "m5.xlarge (4 vCPU, 16 GiB)"
VM_PRICE_PER_HOUR = 0.192


def check_memory(memory_mb: object) -> int:
    """``memory_mb`` if it is an integer in Lambda's 128-10240 MB, else ``InvalidConfigError``."""
    if isinstance(memory_mb, bool) or not isinstance(memory_mb, int) or not (
            MIN_MEMORY_MB <= memory_mb <= MAX_MEMORY_MB):
        raise InvalidConfigError(
            f"function memory must be an integer number of MB in {MIN_MEMORY_MB}-"
            f"{MAX_MEMORY_MB} (the AWS Lambda range), got {memory_mb!r}")
    return memory_mb


def vcpus(memory_mb: int) -> float:
    """The CPU share of a function of ``memory_mb``: one vCPU per 1769 MB, at most 6."""
    return min(check_memory(memory_mb) / MB_PER_VCPU, MAX_VCPUS)


def threads_for_memory(memory_mb: int) -> int:
    """Threads a local worker of ``memory_mb`` may use: its vCPU share, at least one."""
    return max(1, math.floor(vcpus(memory_mb)))


def compute_cost(gb_seconds: float) -> float:
    """Dollars for ``gb_seconds`` of function time (1 GB for 1 s = $0.0000166667)."""
    return check_real("gb_seconds", gb_seconds, 0, math.inf) * GB_SECOND_PRICE


def lambda_cost(seconds: float, memory_mb: int, invocations: int = 1) -> float:
    """Dollars for ``invocations`` calls that together ran ``seconds`` at ``memory_mb``
    (billed per ms, rounded up) plus the request fee."""
    check_memory(memory_mb)
    check_int("invocations", invocations, 0)
    billed = math.ceil(check_real("seconds", seconds, 0, math.inf) * 1000) / 1000
    return compute_cost(billed * memory_mb / 1024) + invocations * REQUEST_PRICE


def vm_cost(seconds: float, price_per_hour: float = VM_PRICE_PER_HOUR) -> float:
    """Dollars for ``seconds`` on an on-demand VM (per-second billing)."""
    return check_real("seconds", seconds, 0, math.inf) / 3600 * price_per_hour


@dataclass(frozen=True)
class EpochEstimate:
    """A modelled epoch: ``seconds`` wall time, ``cost`` dollars, ``rounds`` per epoch and
    the split of a round into invocation, compute and communication seconds."""

    workers: int
    memory_mb: int
    scheme: str
    rounds: int
    seconds: float
    cost: float
    invoke_s: float
    compute_s: float
    comm_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TimeModel:
    """Round and epoch time of ``n`` functions of ``memory_mb`` (modelled).

    A round = invocation latency + compute of ``batch`` samples at the function's vCPU share +
    moving the busiest function's bytes (:func:`~carbide.serverless.aggregation.expected_bytes`)
    at ``bandwidth`` bytes/s, or the store's ``store_bandwidth`` for all functions' bytes
    together, whichever is slower (one Redis server serializes its clients).

    Args:
        num_params: ``P``, float32 values per update.
        samples: training samples per epoch.
        batch: samples per worker per round.
        invoke_s: invocation latency per round (measured: warm call round trip).
        sample_s: seconds per training sample on one vCPU (measured).
        bandwidth: one function's store bandwidth, bytes/s (measured).
        store_bandwidth: the store's total bandwidth, bytes/s (measured; one Redis server is
            one thread), or ``None`` for a store that scales out with the functions (a
            sharded Redis cluster, as the extrapolation to 10-200 workers assumes).
        cold_start_s: extra seconds of a cold invocation (interpreter + torch import,
            measured); charged once per worker per invocation when ``cold`` is set.
    """

    num_params: int
    samples: int
    batch: int
    invoke_s: float
    sample_s: float
    bandwidth: float
    store_bandwidth: float | None
    cold_start_s: float = 0.0

    def __post_init__(self) -> None:
        check_int("num_params", self.num_params, 1)
        check_int("samples", self.samples, 1)
        check_int("batch", self.batch, 1)
        for name in ("invoke_s", "sample_s", "cold_start_s"):
            check_real(name, getattr(self, name), 0, math.inf)
        check_real("bandwidth", self.bandwidth, 0, math.inf, lo_open=True)
        if self.store_bandwidth is not None:
            check_real("store_bandwidth", self.store_bandwidth, 0, math.inf, lo_open=True)

    def rounds_per_epoch(self, workers: int) -> int:
        return math.ceil(self.samples / (check_int("workers", workers, 1) * self.batch))

    def round_parts(self, scheme: str, workers: int, memory_mb: int, *, shards: int | None = None,
                    cold: bool = False) -> tuple[float, float, float]:
        """``(invoke_s, compute_s, comm_s)`` of one round."""
        check_scheme(scheme)
        m = min(shards or workers, self.num_params)
        b = expected_bytes(scheme, workers, self.num_params, m)
        total = b["worker"] * workers + (b["max_function"] if scheme == "parameter_server" else 0)
        comm = b["max_function"] / self.bandwidth
        if self.store_bandwidth is not None:
            comm = max(comm, total / self.store_bandwidth)
        compute = self.batch * self.sample_s / vcpus(memory_mb)
        return self.invoke_s + (self.cold_start_s if cold else 0.0), compute, comm

    def epoch(self, scheme: str, workers: int, memory_mb: int, *, shards: int | None = None,
              cold: bool = False) -> EpochEstimate:
        """The modelled epoch of ``scheme`` at ``workers`` x ``memory_mb``."""
        inv, comp, comm = self.round_parts(scheme, workers, memory_mb, shards=shards, cold=cold)
        rounds = self.rounds_per_epoch(workers)
        seconds = rounds * (inv + comp + comm)
        functions = workers + (scheme == "parameter_server")
        cost = lambda_cost(seconds * functions, memory_mb, invocations=rounds * functions)
        return EpochEstimate(workers, memory_mb, scheme, rounds, seconds, cost, inv, comp, comm)

    @classmethod
    def calibrate(cls, *, num_params: int, samples: int, batch: int, invoke_s: float,
                  sample_s_at: tuple[float, int], round_bytes_s: tuple[float, float],
                  store_bytes_s: tuple[float, float] | None = None,
                  cold_start_s: float = 0.0) -> TimeModel:
        """Build the model from measured facts.

        Args:
            sample_s_at: ``(seconds per sample, memory_mb it ran at)`` from a local worker whose
                threads were capped by its memory (``threads_for_memory``).
            round_bytes_s: ``(bytes, seconds)`` one function moved in a measured round.
            store_bytes_s: ``(bytes, seconds)`` all functions moved together (default: the
                single-function figure times 8, i.e. the store is not the bottleneck).
        """
        s, mem = sample_s_at
        per_vcpu = s * threads_for_memory(mem)  # a worker ran at this many threads
        nbytes, secs = round_bytes_s
        if secs <= 0 or nbytes <= 0:
            raise InvalidConfigError(f"round_bytes_s must be positive, got {round_bytes_s}")
        bw = nbytes / secs
        sbw = bw * 8 if store_bytes_s is None else store_bytes_s[0] / store_bytes_s[1]
        return cls(num_params, samples, batch, invoke_s, per_vcpu, bw, sbw, cold_start_s)

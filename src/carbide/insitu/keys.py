"""Every Redis key ElasticBroker uses, made in one place.

A run of field ``f`` with prefix ``p`` (default :data:`PREFIX`) writes:

==============================  ============================================================
``p:f:<region>``                one stream per region (the paper's ``<field><region>``)
``p:f:dmd``                     the results stream (one entry per analysed window)
``p:f:progress``                hash: region -> next window to analyse (consumer failover)
==============================  ============================================================

and the analysis reads the region streams through the consumer group :data:`GROUP`. The
transport benchmarks write :func:`raw_throughput_key` and the region-0 stream of the field
:data:`BENCH_FIELD`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["BENCH_FIELD", "GROUP", "PREFIX", "progress_key", "raw_throughput_key",
           "results_key", "run_keys", "stream_key"]

#: Default key prefix.
PREFIX = "carbide"
#: Default consumer group of the embedded analysis engine.
GROUP = "dmd"
#: Field name of the broker-throughput benchmark's stream.
BENCH_FIELD = "bench"


def stream_key(field: str, region: int, *, prefix: str = PREFIX) -> str:
    """The Redis Stream of one field's region (the paper's ``<field><region>``)."""
    return f"{prefix}:{field}:{int(region)}"


def results_key(field: str, *, prefix: str = PREFIX) -> str:
    """The stream the analysis publishes each window's DMD result to."""
    return f"{prefix}:{field}:dmd"


def progress_key(field: str, *, prefix: str = PREFIX) -> str:
    """The hash of each region's next window to analyse (what a failover resumes from)."""
    return f"{prefix}:{field}:progress"


def raw_throughput_key(*, prefix: str = PREFIX) -> str:
    """The stream of the plain XADD loop that measures the transport ceiling."""
    return f"{prefix}:raw-throughput"


def run_keys(field: str, regions: Iterable[int], *, prefix: str = PREFIX) -> list[str]:
    """Every key one run of ``field`` over ``regions`` writes (what a fresh run deletes)."""
    return [*(stream_key(field, r, prefix=prefix) for r in regions),
            results_key(field, prefix=prefix), progress_key(field, prefix=prefix)]

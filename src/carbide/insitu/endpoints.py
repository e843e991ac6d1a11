"""Where each rank sends its stream: endpoint URLs and the rank -> region -> endpoint mapping.

ElasticBroker maps ranks to cloud endpoints with an endpoint file; carbide keeps that format:
one Redis URL per line (``redis://host:port[/db]`` or ``unix:///path``), line *i* serving MPI rank
*i*; blank lines and ``#`` comments are skipped. Ranks are grouped into contiguous regions
(``region = rank * regions // size``); every rank of a region writes the same stream, so all of
them must map to the same endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..exceptions import InvalidConfigError

__all__ = ["read_endpoint_file", "region_of", "region_ranks", "resolve_endpoints"]

_SCHEMES = ("redis://", "rediss://", "unix://")


def region_of(rank: int, size: int, regions: int) -> int:
    """Region of ``rank`` among ``size`` ranks split into ``regions`` contiguous groups."""
    if not 1 <= regions <= size:
        raise InvalidConfigError(
            f"regions={regions} must be between 1 and the number of ranks ({size}); "
            "each region aggregates one or more ranks")
    return rank * regions // size


def region_ranks(region: int, size: int, regions: int) -> list[int]:
    """The ranks whose snapshots make up ``region``, in order (their ``localid``)."""
    return [r for r in range(size) if region_of(r, size, regions) == region]


def _check_url(url: str, where: str) -> str:
    url = url.strip()
    if not url.startswith(_SCHEMES):
        raise InvalidConfigError(
            f"endpoint {url!r} ({where}) is not a Redis URL; use redis://host:port or "
            "unix:///path/to/socket")
    return url


def read_endpoint_file(path: str | os.PathLike[str]) -> list[str]:
    """The endpoint URLs listed in ``path``, one per non-blank, non-comment line."""
    p = Path(path)
    if not p.is_file():
        raise InvalidConfigError(f"endpoint file {str(p)!r} does not exist")
    urls = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if text:
            urls.append(_check_url(text, f"{p}:{n}"))
    return urls


def resolve_endpoints(endpoints: str | os.PathLike[str] | Sequence[str], *, size: int,
                      regions: int) -> list[str]:
    """One endpoint URL per rank.

    Args:
        endpoints: a single URL (every rank uses it), a list of URLs (rank *i* uses item *i*),
            or the path of an endpoint file (rank *i* uses line *i*).
        size: number of ranks.
        regions: number of regions (ranks of one region must share an endpoint).

    Raises:
        InvalidConfigError: fewer endpoints than ranks, a malformed URL, or one region's ranks
            mapped to different endpoints.
    """
    if isinstance(endpoints, (str, os.PathLike)) and str(endpoints).startswith(_SCHEMES):
        urls = [str(endpoints)] * size
        source = "the endpoint URL"
    else:
        if isinstance(endpoints, (str, os.PathLike)):
            urls, source = read_endpoint_file(endpoints), f"endpoint file {str(endpoints)!r}"
        else:
            urls = [_check_url(str(u), f"endpoints[{i}]") for i, u in enumerate(endpoints)]
            source = "the endpoints list"
        if len(urls) < size:
            raise InvalidConfigError(
                f"{source} has {len(urls)} endpoint(s) but there are {size} ranks; "
                "give one endpoint per rank (line i serves rank i)")
        urls = urls[:size]
    for region in range(regions):
        members = region_ranks(region, size, regions)
        used = {urls[r] for r in members}
        if len(used) > 1:
            raise InvalidConfigError(
                f"region {region} (ranks {members}) is mapped to several endpoints {sorted(used)};"
                " the ranks of one region write one stream, so give them the same endpoint")
    return urls

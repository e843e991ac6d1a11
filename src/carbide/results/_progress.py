"""Progress: rich bars on a terminal, plain periodic lines when stderr is not one (CI, logs).

Off a terminal, a task that runs longer than ``CARBIDE_PROGRESS_INTERVAL`` seconds (default 15)
prints one line per interval on stderr (what, how far, elapsed, time left) and a last line when
it completes, so a long run in a log is never minutes of silence while a short one prints
nothing. ``CARBIDE_PROGRESS=0`` silences both; ``=1`` forces rich bars.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

__all__ = ["progress", "progress_enabled", "track"]

T = TypeVar("T")

_last_line = 0.0  # monotonic time of the last plain line, shared by every plain progress


def _interval() -> float:
    raw = os.environ.get("CARBIDE_PROGRESS_INTERVAL", "15")
    try:
        value = float(raw)
    except ValueError:
        from ..exceptions import InvalidConfigError

        raise InvalidConfigError(f"CARBIDE_PROGRESS_INTERVAL must be a number of seconds, "
                                 f"got {raw!r}") from None
    return max(value, 0.0)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class _PlainProgress:
    """The subset of ``rich.progress.Progress`` carbide uses, as throttled plain lines."""

    def __init__(self, *, transient: bool, interval: float, stream: Any = None) -> None:
        self._transient = transient
        self._interval = interval
        self._stream = stream
        self._tasks: dict[int, dict[str, Any]] = {}

    def __enter__(self) -> _PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def start(self) -> None:
        """Nothing to start (rich's ``Progress.start``: kept for callers that drive it by hand)."""

    def stop(self) -> None:
        """Nothing to stop."""

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        task = len(self._tasks)
        now = time.monotonic()
        self._tasks[task] = {"description": description, "total": total, "completed": 0.0,
                             "start": now, "printed": False}
        return task

    def advance(self, task: int, advance: float = 1) -> None:
        self.update(task, advance=advance)

    def update(self, task: int, *, advance: float | None = None, completed: float | None = None,
               total: float | None = None, description: str | None = None, **_: Any) -> None:
        t = self._tasks[task]
        if description is not None:
            t["description"] = description
        if total is not None:
            t["total"] = total
        if completed is not None:
            t["completed"] = float(completed)
        if advance:
            t["completed"] += advance
        self._maybe_print(t)

    def _maybe_print(self, t: dict[str, Any]) -> None:
        global _last_line
        now = time.monotonic()
        done = t["total"] is not None and t["completed"] >= t["total"]
        if done and t["printed"] and not self._transient:
            self._print(t, now)  # a long task says when it ends
        elif (now - t["start"] >= self._interval and now - _last_line >= self._interval):
            self._print(t, now)

    def _print(self, t: dict[str, Any], now: float) -> None:
        global _last_line
        elapsed = now - t["start"]
        total, completed = t["total"], t["completed"]
        if total:
            left = elapsed * (total - completed) / completed if completed else float("nan")
            eta = "done" if completed >= total else (
                "time left unknown" if left != left else f"about {_duration(left)} left")
            where = f"{completed:g}/{total:g} ({100 * completed / total:.0f}%)"
        else:
            where, eta = f"{completed:g} done", "total unknown"
        stream = self._stream or sys.stderr
        print(f"[carbide] {t['description']}: {where}, {_duration(elapsed)} elapsed, {eta}",
              file=stream, flush=True)
        t["printed"] = True
        _last_line = now


def progress_enabled() -> bool:
    """True when rich bars are drawn: stderr is a terminal and ``CARBIDE_PROGRESS`` is not ``0``.

    ``CARBIDE_PROGRESS=1`` forces bars on (e.g. under a pager that is not a tty).
    """
    flag = os.environ.get("CARBIDE_PROGRESS")
    if flag is not None:
        return flag not in ("0", "", "false", "no")
    from rich.console import Console

    return Console(stderr=True).is_terminal


def progress(*, transient: bool = False):
    """A ``rich.progress.Progress`` on stderr with a bar, counts, rate and time left.

    Use as a context manager: ``with progress() as p: task = p.add_task("decode", total=n)``.
    Off a terminal it is a plain-line stand-in with the same ``add_task``/``advance``/``update``
    (see the module docstring); with ``CARBIDE_PROGRESS=0`` it prints nothing.
    """
    flag = os.environ.get("CARBIDE_PROGRESS")
    if not progress_enabled() and flag not in ("0", "false", "no"):
        return _PlainProgress(transient=transient, interval=_interval())
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=transient,
        disable=not progress_enabled(),
    )


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar (see :func:`progress`)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress() as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)

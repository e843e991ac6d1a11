"""Progress bars (rich) that stay quiet when stderr is not a terminal (CI, pipes, files)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["progress", "progress_enabled", "track"]

T = TypeVar("T")


def progress_enabled() -> bool:
    """True when stderr is a terminal and ``CARBIDE_PROGRESS`` is not ``0``.

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
    Disabled (draws nothing) when :func:`progress_enabled` is false.
    """
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

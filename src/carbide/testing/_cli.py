"""Run the ``carbide`` console script as a user runs it: a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["run_cli"]


def run_cli(*args: object, data: str | os.PathLike[str] | None = None,
            cwd: str | os.PathLike[str] | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m carbide.cli ARGS...`` with captured text output.

    Args:
        args: the command line after ``carbide`` (converted with ``str``).
        data: ``$CARBIDE_DATA`` for the run (default: inherited).
        cwd: working directory of the run.
        timeout: seconds before the run is killed (``subprocess.TimeoutExpired``).

    Returns:
        The finished process: ``returncode``, ``stdout``, ``stderr``.
    """
    env = dict(os.environ)
    if data is not None:
        env["CARBIDE_DATA"] = os.fspath(data)
    return subprocess.run([sys.executable, "-m", "carbide.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)

"""Run records: the results contract of DESIGN.md, written atomically.

Every ``carbide <system> ... --out DIR`` writes ``DIR/results.json`` (``system, command,
config, metrics, rows, versions, started, duration_s``), ``DIR/report.md`` and ``DIR/*.png``.
``results.json`` is written last and atomically, so its presence means the run finished.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._io import atomic_path, atomic_write
from ..exceptions import CarbideError, InvalidConfigError
from ._env import environment
from ._report import Report

__all__ = ["RESULT_KEYS", "RunRecorder", "current_command", "machine_note", "read_results",
           "to_jsonable"]

RESULT_KEYS = (
    "system", "command", "config", "metrics", "rows", "versions", "started", "duration_s",
)


def current_command() -> str:
    """The command line of this process, as a user would type it (``carbide ...``)."""
    prog = Path(sys.argv[0]).name if sys.argv else "carbide"
    return " ".join(["carbide" if prog in ("carbide", "__main__.py") else prog, *sys.argv[1:]])


def to_jsonable(obj: Any) -> Any:
    """Convert ``obj`` into plain JSON values.

    Dataclasses become dicts, paths strings, NumPy/torch scalars Python numbers, tuples lists;
    non-finite floats become ``None`` (JSON has no NaN) so the file stays strict JSON.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 0) == 0:
        return to_jsonable(obj.item())  # NumPy or torch scalar
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return to_jsonable(obj.tolist())
    raise TypeError(f"cannot write {type(obj).__name__} into results.json: {obj!r}")


class RunRecorder:
    """Collects one run's record and writes it in the results-contract layout.

    Args:
        out: the run's folder, created when the first file is written (so a run that fails
            before writing anything leaves no folder behind); an existing file there is an
            error.
        system: the system's CLI name, e.g. ``"bifeat"``.
        config: the run's configuration (a dataclass or a mapping).
        command: the command line (default: this process's, see :func:`current_command`).

    Example:
        >>> rec = RunRecorder(out, system="bifeat", config=cfg)       # doctest: +SKIP
        >>> rec.save_figure(fig, "accuracy.png")                       # doctest: +SKIP
        >>> rec.finish(metrics={"test_acc": 0.81}, rows=rows, report=report)  # doctest: +SKIP
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        system: str,
        config: Any,
        command: str | None = None,
    ) -> None:
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise InvalidConfigError(f"--out {self.out} is a file; give a folder for the results")
        self.system = system
        self.config = to_jsonable(config)
        self.command = command if command is not None else current_command()
        self.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._load_start = load_average()
        self._t0 = time.perf_counter()
        self.figures: list[Path] = []

    def save_figure(self, fig: Any, name: str, *, dpi: int = 120) -> Path:
        """Save a matplotlib figure as ``out/name`` (PNG, atomically) and close it.

        Make figures with :func:`carbide.results.subplots` (no pyplot, no display needed).
        """
        if not name.endswith(".png"):
            raise InvalidConfigError(f"figure name must end in .png, got {name!r}")
        path = self.out / name
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
        finally:
            pyplot = sys.modules.get("matplotlib.pyplot")
            if pyplot is not None:  # a pyplot-managed figure would otherwise stay open
                pyplot.close(fig)
        self.figures.append(path)
        return path

    def finish(
        self,
        *,
        metrics: Mapping[str, Any],
        rows: Sequence[Mapping[str, Any]] = (),
        report: Report | str,
    ) -> dict[str, Any]:
        """Write ``report.md`` then ``results.json``; return the results dict."""
        result = {
            "system": self.system,
            "command": self.command,
            "config": self.config,
            "metrics": to_jsonable(dict(metrics)),
            "rows": to_jsonable(list(rows)),
            "versions": {**environment(),
                         "load_average": {"start": self._load_start, "end": load_average()}},
            "started": self.started,
            "duration_s": round(time.perf_counter() - self._t0, 3),
        }
        if isinstance(report, Report):
            self.figures.extend(report.save_figures(self.out))
        text = report.render() if isinstance(report, Report) else str(report)
        with atomic_write(self.out / "report.md") as fh:
            fh.write(text.rstrip("\n") + "\n\n" + machine_note(result) + "\n")
        payload = json.dumps(result, indent=2, allow_nan=False)
        with atomic_write(self.out / "results.json") as fh:
            fh.write(payload + "\n")
        return result


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, rounded to 0.01 (None where the OS has none):
    what a timing is printed or stored beside."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_note(result: Mapping[str, Any]) -> str:
    """The report's last line: cores, threads and the load the run saw.

    Timings in a report are only comparable with the load beside them: on a 2-core machine
    a 1-minute load average above 2 means every timed figure was stretched by other work.
    """
    env = result.get("versions") or {}
    load = env.get("load_average") or {}

    def one(key: str) -> str:
        values = load.get(key)
        return "not recorded" if not values else f"{values[0]:g}"

    return (f"_Machine: {env.get('cpu_count', '?')} cores, OMP_NUM_THREADS="
            f"{env.get('omp_num_threads') or 'unset'}; 1-minute load average {one('start')} at "
            f"the start and {one('end')} at the end of the run (timings above are stretched when "
            f"it exceeds the core count)._")


def read_results(out: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``out/results.json``.

    Raises:
        CarbideError: the file is missing (the run did not finish), not JSON, or lacks keys.
    """
    path = Path(out) / "results.json"
    if not path.is_file():
        raise CarbideError(f"no results at {path}: the run did not finish or wrote elsewhere")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CarbideError(f"{path} is not valid JSON ({exc}); re-run to rewrite it") from exc
    missing = [k for k in RESULT_KEYS if k not in data]
    if missing:
        raise CarbideError(f"{path} lacks {', '.join(missing)}: not a carbide results file")
    return data

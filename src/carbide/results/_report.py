"""Markdown for ``report.md``: tables, the paper's claim beside ours, plots."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Claim", "Report", "format_value", "markdown_table"]


def format_value(value: object, floatfmt: str = ".4g") -> str:
    """One table cell: floats with ``floatfmt``, NaN/None as an em dash, pipes escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format(value, floatfmt)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str] | None = None,
    floatfmt: str = ".4g",
) -> str:
    """A GitHub-flavoured markdown table of ``rows`` (one dict per row).

    Args:
        rows: the rows; missing keys print as an em dash.
        columns: column order (default: keys in first-seen order over all rows).
        floatfmt: format spec for floats.
    """
    if columns is None:
        seen: dict[str, None] = {}
        for row in rows:
            seen.update(dict.fromkeys(row))
        columns = list(seen)
    if not columns:
        return "_(no rows)_\n"
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(format_value(row.get(c), floatfmt) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _finite(value: object) -> bool:
    if value is None:
        return False
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class Claim:
    """A headline figure: what the paper reports beside what this run measured.

    Attributes:
        what: the quantity, e.g. ``"compression ratio at <1 point accuracy loss"``.
        paper: the paper's figure, as the paper states it.
        ours: the measured figure from this run.
        setting: how our setting differs (dataset, scale, schedule).
        holds: whether the claim holds in our run (``None`` when not comparable).
        figures: the numbers the verdict compares, by name. When any is missing, NaN or
            infinite the verdict is "not measured" (never "yes" or "no"), naming it.
    """

    what: str
    paper: str
    ours: str
    setting: str = ""
    holds: bool | None = None
    figures: Mapping[str, object] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        """Names of the figures that were not measured (missing, NaN or infinite)."""
        return [k for k, v in self.figures.items() if not _finite(v)]

    @property
    def verdict(self) -> str:
        """``yes`` / ``no`` / ``—`` (not comparable) / ``not measured (...)``."""
        missing = self.missing
        if missing:
            return f"not measured ({', '.join(missing)} missing)"
        if self.holds is None:
            return "—"
        return "yes" if self.holds else "no"


class Report:
    """Builds ``report.md`` piece by piece; :meth:`render` gives the text."""

    def __init__(self, title: str) -> None:
        self._parts: list[str] = [f"# {title}\n"]
        self._figures: dict[str, Any] = {}

    def heading(self, text: str, level: int = 2) -> Report:
        self._parts.append(f"{'#' * level} {text}\n")
        return self

    def paragraph(self, text: str) -> Report:
        self._parts.append(text.strip() + "\n")
        return self

    def bullets(self, items: Iterable[str]) -> Report:
        self._parts.append("".join(f"- {item}\n" for item in items))
        return self

    def table(
        self,
        rows: Sequence[Mapping[str, object]],
        columns: Sequence[str] | None = None,
        caption: str | None = None,
        floatfmt: str = ".4g",
    ) -> Report:
        if caption:
            self._parts.append(f"{caption}\n")
        self._parts.append(markdown_table(rows, columns, floatfmt))
        return self

    def claims(self, claims: Sequence[Claim]) -> Report:
        """The paper's claims beside the measured figures."""
        rows = [
            {
                "claim": c.what,
                "paper": c.paper,
                "ours": c.ours,
                "holds here": c.verdict,
                "our setting": c.setting,
            }
            for c in claims
        ]
        return self.table(rows, ["claim", "paper", "ours", "holds here", "our setting"])

    def image(self, path: str, caption: str) -> Report:
        """A plot, by path relative to the report's folder."""
        self._parts.append(f"![{caption}]({path})\n")
        return self

    def figure(self, fig: Any, name: str, caption: str) -> Report:
        """A matplotlib figure shown here and saved as ``name`` when the report is written.

        Lets a pure ``render(rows, plan)`` make its plots; :meth:`save_figures` (called by
        ``RunRecorder.finish``) writes them atomically beside ``report.md``.
        """
        if not name.endswith(".png"):
            raise ValueError(f"figure name must end in .png, got {name!r}")
        self._figures[name] = fig
        return self.image(name, caption)

    def save_figures(self, out: str | Path) -> list[Path]:
        """Write the figures attached with :meth:`figure` into ``out`` (PNG) and close them."""
        import sys

        from .._io import atomic_path

        paths = []
        for name, fig in self._figures.items():
            path = Path(out) / name
            try:
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
            finally:
                pyplot = sys.modules.get("matplotlib.pyplot")
                if pyplot is not None:
                    pyplot.close(fig)
            paths.append(path)
        self._figures.clear()
        return paths

    def render(self) -> str:
        return "\n".join(self._parts)

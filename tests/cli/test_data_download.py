"""`carbide data download` run as a user runs it (a subprocess) against a loopback server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.datasets._http import serve


def carbide(*args: str, data: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("CARBIDE_PROGRESS", None)
    if data is not None:
        env["CARBIDE_DATA"] = data
    return subprocess.run([sys.executable, "-m", "carbide.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def _one_error_line(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 1 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("carbide: error:")]
    assert len(errors) == 1 and run.stderr.strip().splitlines()[-1] == errors[0]
    return errors[0]


def test_download_from_a_mirror_then_verify(shared_root, tmp_path):
    root = tmp_path / "data"
    with serve(shared_root) as srv:
        run = carbide("data", "download", "cora", "nasbench201", "--mirror", srv.url,
                      "--root", str(root))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split()[:3] == ["cora", "downloaded", "8"]
    assert lines[1].split()[:3] == ["nasbench201", "downloaded", "1"]
    assert "downloading planetoid/Cora/raw/ind.cora.allx" in run.stderr  # plain progress lines
    verify = carbide("data", "verify", "cora", "nasbench201", data=str(root))
    assert verify.returncode == 0, verify.stderr
    with serve(shared_root) as srv:  # present and verified: nothing is fetched again
        again = carbide("data", "download", "cora", "--mirror", srv.url, "--root", str(root))
        assert srv.requests == []
    assert again.stdout.split()[:2] == ["cora", "present"]


def test_a_404_is_one_line_naming_the_file_and_leaves_no_root(tmp_path):
    (tmp_path / "empty").mkdir()
    root = tmp_path / "data"
    with serve(tmp_path / "empty") as srv:
        run = carbide("data", "download", "cora", "--mirror", srv.url, "--root", str(root))
    line = _one_error_line(run)
    assert line.startswith("carbide: error: planetoid/Cora/raw/ind.cora.allx: HTTP 404")
    assert not root.exists()


def test_femnist_names_the_commands_that_make_it(tmp_path):
    run = carbide("data", "download", "femnist", "--root", str(tmp_path / "data"))
    line = _one_error_line(run)
    assert "./preprocess.sh -s niid --sf 0.05 -k 0 -t sample" in line
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(("names", "code", "says"), [
    ((), 2, "Missing argument 'NAMES...'"),
    (("cora", "mnist"), 1, "unknown dataset 'mnist'; choose one of: cora, citeseer"),
])
def test_no_or_unknown_names_are_refused(names, code, says, tmp_path):
    run = carbide("data", "download", *names, "--root", str(tmp_path / "data"))
    assert run.returncode == code and "Traceback" not in run.stderr
    assert says in run.stderr
    assert not (tmp_path / "data").exists()

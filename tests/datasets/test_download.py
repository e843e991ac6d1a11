"""carbide.datasets.download_datasets against a loopback HTTP server serving tiny fixtures."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import zipfile
from pathlib import Path

import pytest

from carbide.datasets import (
    DATASETS,
    SOURCES,
    Artifact,
    DatasetInfo,
    Source,
    _root,
    download_datasets,
    verify_dataset,
)
from carbide.exceptions import ChecksumMismatchError, DownloadError, InvalidConfigError
from tests.datasets._http import serve

A_BYTES = bytes(range(256)) * 8  # 2048 bytes
B_BYTES = b"b,c\n1,2\n"
C_BYTES = b"licence text\n"


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch, tmp_path):
    """A cache per test, so that each test sees only its own .part files."""
    monkeypatch.setenv("CARBIDE_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    with serve(root) as srv:
        yield srv


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def _deb(members: dict[str, bytes]) -> bytes:
    """A Debian package: an ``ar`` archive whose ``data.tar.xz`` holds ``./<member>``."""
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:xz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for name, data in (("debian-binary", b"2.0\n"), ("control.tar.xz", b""),
                       ("data.tar.xz", tar.getvalue())):
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n"
        out.write(header.encode() + data + (b"\n" if len(data) % 2 else b""))
    return out.getvalue()


@pytest.fixture
def toy(monkeypatch, server):
    """Dataset ``toy`` (toy/a.bin, toy/b.csv, toy/LICENSE) registered with a loopback source:
    a.bin served as is, b.csv inside a wheel, LICENSE inside a .deb."""
    manifest = {"toy/a.bin": _sha(A_BYTES), "toy/b.csv": _sha(B_BYTES),
                "toy/LICENSE": _sha(C_BYTES)}
    monkeypatch.setattr(_root, "_manifest", lambda: manifest)
    monkeypatch.setitem(DATASETS, "toy", DatasetInfo(
        "toy", "toy", ("toy/*.bin", "toy/*.csv"), "a toy dataset", "the test server", "none"))
    wheel = _wheel({"pkg/data/b.csv": B_BYTES, "pkg/other.py": b"x = 1\n"})
    deb = _deb({"usr/share/doc/toy/copyright": C_BYTES})
    up = server.root / "up"
    up.mkdir()
    (up / "a.bin").write_bytes(A_BYTES)
    (up / "pkg-1.0-py3-none-any.whl").write_bytes(wheel)
    (up / "toy_1.0_all.deb").write_bytes(deb)
    monkeypatch.setitem(SOURCES, "toy", Source("toy", "CC0", (
        Artifact(f"{server.url}/up/a.bin", "file", (("", "toy/a.bin"),)),
        Artifact(f"{server.url}/up/pkg-1.0-py3-none-any.whl", "zip",
                 (("pkg/data/b.csv", "toy/b.csv"),), _sha(wheel)),
        Artifact(f"{server.url}/up/toy_1.0_all.deb", "deb",
                 (("usr/share/doc/toy/copyright", "toy/LICENSE"),), _sha(deb)),
    ), "a.bin as served, b.csv from the wheel, LICENSE from the .deb"))
    return server


def _mirror(server, a: bytes = A_BYTES, b: bytes | None = B_BYTES) -> None:
    """Lay the root's layout out on the server: <url>/toy/a.bin, <url>/toy/b.csv."""
    (server.root / "toy").mkdir(exist_ok=True)
    (server.root / "toy" / "a.bin").write_bytes(a)
    if b is not None:
        (server.root / "toy" / "b.csv").write_bytes(b)


def _get(root: Path, **kw):
    kw.setdefault("retries", 0)
    kw.setdefault("backoff", 0.0)
    return download_datasets(["toy"], root, progress=False, echo=kw.pop("echo", lambda s: None),
                             **kw)


def _left_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")) if root.exists() else []


def _parts() -> list[Path]:
    from carbide.datasets import cache_dir

    return sorted(cache_dir("downloads").rglob("*"))


def test_upstream_download_unpacks_wheel_and_deb_and_verifies(toy, tmp_path):
    root = tmp_path / "data"
    lines: list[str] = []
    [result] = _get(root, echo=lines.append)
    assert result.status == "downloaded"
    assert (root / "toy/a.bin").read_bytes() == A_BYTES
    assert (root / "toy/b.csv").read_bytes() == B_BYTES
    assert (root / "toy/LICENSE").read_bytes() == C_BYTES
    assert [p.name for p in result.files] == ["a.bin", "b.csv"]
    assert [c.status for c in verify_dataset("toy", root)] == ["ok", "ok"]
    assert any(line.startswith("downloading toy/a.bin (0.0 MB") for line in lines)
    assert _parts() == []  # downloads and staging are cleaned up after success
    n = len(toy.requests)
    [again] = _get(root)
    assert again.status == "present" and len(toy.requests) == n  # nothing fetched again


def test_mirror_serves_the_root_layout(toy, tmp_path):
    _mirror(toy)
    [result] = _get(tmp_path / "data", mirror=toy.url + "/")
    assert result.status == "downloaded"
    assert [path for path, _ in toy.requests] == ["/toy/a.bin", "/toy/b.csv"]
    assert (tmp_path / "data/toy/b.csv").read_bytes() == B_BYTES


def test_checksum_mismatch_names_the_file_and_leaves_nothing(toy, tmp_path):
    _mirror(toy, a=A_BYTES[:-1] + b"\x00")
    root = tmp_path / "data"
    with pytest.raises(ChecksumMismatchError, match=r"toy/a\.bin: checksum mismatch"):
        _get(root, mirror=toy.url)
    assert _left_under(root) == []
    assert _parts() == []  # a wrong .part is deleted: it cannot be resumed


def test_checksum_mismatch_of_an_unpacked_member(toy, tmp_path, monkeypatch):
    wheel = _wheel({"pkg/data/b.csv": b"tampered\n"})
    (toy.root / "up" / "pkg-1.0-py3-none-any.whl").write_bytes(wheel)
    src = SOURCES["toy"]
    arts = list(src.artifacts)
    arts[1] = Artifact(arts[1].url, "zip", arts[1].members, None)  # archive hash unknown
    monkeypatch.setitem(SOURCES, "toy", Source("toy", src.licence, tuple(arts), src.layout))
    root = tmp_path / "data"
    with pytest.raises(ChecksumMismatchError, match=r"toy/b\.csv unpacked from"):
        _get(root)
    assert _left_under(root) == []
    assert not [p for p in _parts() if p.name.endswith(".whl.part")]  # not resumed next time


def test_404_names_the_file_and_places_nothing(toy, tmp_path):
    _mirror(toy, b=None)  # a.bin is there and fine, b.csv is not
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"toy/b\.csv: HTTP 404") as info:
        _get(root, mirror=toy.url)
    assert f"{toy.url}/toy/b.csv" in str(info.value)
    assert _left_under(root) == []  # the verified a.bin is not placed alone either


def test_a_server_error_is_retried_and_then_named(toy, tmp_path):
    _mirror(toy)
    toy.fail["/toy/a.bin"] = 1
    _get(tmp_path / "ok", mirror=toy.url, retries=1)
    assert (tmp_path / "ok/toy/a.bin").read_bytes() == A_BYTES
    toy.fail["/toy/a.bin"] = 5
    with pytest.raises(DownloadError, match=r"toy/a\.bin: could not download .*HTTP 503"):
        _get(tmp_path / "data", mirror=toy.url, retries=1)
    assert _left_under(tmp_path / "data") == []


def test_unreachable_host_names_the_file(toy, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=rf"toy/a\.bin: could not download .*127\.0\.0\.1:"
                                            rf"{port} after 2 attempt"):
        _get(root, mirror=f"http://127.0.0.1:{port}", retries=1)
    assert _left_under(root) == []


def test_dropped_connection_resumes_with_range(toy, tmp_path):
    _mirror(toy)
    toy.drop["/toy/a.bin"] = 700
    [result] = _get(tmp_path / "data", mirror=toy.url, retries=1)
    assert result.status == "downloaded"
    assert [r for r in toy.requests if r[0] == "/toy/a.bin"] == [
        ("/toy/a.bin", None), ("/toy/a.bin", "bytes=700-")]
    assert (tmp_path / "data/toy/a.bin").read_bytes() == A_BYTES


def test_a_failed_run_leaves_a_part_outside_the_root_and_the_next_run_resumes(toy, tmp_path):
    _mirror(toy)
    toy.drop["/toy/a.bin"] = 1000
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"toy/a\.bin: could not download .*1000 of 2048"):
        _get(root, mirror=toy.url, retries=0)
    assert _left_under(root) == []
    [part] = [p for p in _parts() if p.name.endswith("a.bin.part")]
    assert part.stat().st_size == 1000
    _get(root, mirror=toy.url, retries=0)
    assert toy.requests[-2] == ("/toy/a.bin", "bytes=1000-")
    assert (root / "toy/a.bin").read_bytes() == A_BYTES


def test_a_complete_part_from_an_interrupted_run_is_used_after_a_416(toy, tmp_path):
    from carbide.datasets._download import _part_path

    _mirror(toy)
    _part_path(f"{toy.url}/toy/a.bin").parent.mkdir(parents=True, exist_ok=True)
    _part_path(f"{toy.url}/toy/a.bin").write_bytes(A_BYTES)  # downloaded, never placed
    _get(tmp_path / "data", mirror=toy.url)
    assert ("/toy/a.bin", "bytes=2048-") in toy.requests
    assert (tmp_path / "data/toy/a.bin").read_bytes() == A_BYTES


def test_a_part_longer_than_the_file_is_restarted(toy, tmp_path):
    from carbide.datasets._download import _part_path

    _mirror(toy)
    _part_path(f"{toy.url}/toy/a.bin").parent.mkdir(parents=True, exist_ok=True)
    _part_path(f"{toy.url}/toy/a.bin").write_bytes(A_BYTES + b"junk")
    _get(tmp_path / "data", mirror=toy.url, retries=1)
    assert [r for r in toy.requests if r[0] == "/toy/a.bin"] == [
        ("/toy/a.bin", "bytes=2052-"), ("/toy/a.bin", None)]
    assert (tmp_path / "data/toy/a.bin").read_bytes() == A_BYTES


def test_a_server_ignoring_range_restarts_from_zero(toy, tmp_path):
    _mirror(toy)
    toy.drop["/toy/a.bin"] = 500
    toy.honour_range = False
    _get(tmp_path / "data", mirror=toy.url, retries=1)
    assert (tmp_path / "data/toy/a.bin").read_bytes() == A_BYTES


def test_femnist_refuses_with_the_leaf_commands(tmp_path):
    root = tmp_path / "data"
    with pytest.raises(DownloadError) as info:
        download_datasets(["femnist"], root, progress=False)
    msg = str(info.value)
    assert "git clone https://github.com/TalwalkarLab/leaf" in msg
    assert "./preprocess.sh -s niid --sf 0.05 -k 0 -t sample" in msg
    assert "--mirror URL" in msg and "load_leaf(" in msg
    assert not root.exists()


def test_unknown_name_is_refused_before_any_download(toy, tmp_path):
    with pytest.raises(InvalidConfigError, match="unknown dataset 'nope'"):
        download_datasets(["toy", "nope"], tmp_path / "data", progress=False)
    assert toy.requests == []


def test_every_dataset_has_a_source_whose_files_are_checksummed():
    manifest = _root._manifest()
    assert set(SOURCES) == set(DATASETS)
    for name, source in SOURCES.items():
        assert source.licence and source.layout
        if source.manual is not None:
            assert source.artifacts == ()
            continue
        produced = set()
        for art in source.artifacts:
            assert art.url.startswith("https://"), art.url
            assert art.kind in ("file", "zip", "deb")
            assert art.expected_sha256() is not None, art.url  # every upstream hash is known
            produced.update(rel for _, rel in art.members)
        assert produced <= set(manifest), produced - set(manifest)
        layout = set(_root._expected(DATASETS[name]))
        info = DATASETS[name]
        alt = set(_root._expected(info, alt=True)) if info.alt_patterns else set()
        assert layout <= produced or alt <= produced, name  # a complete layout comes out


def test_mirror_of_the_shared_root_gives_a_verified_cora(shared_root, tmp_path, server):
    server.root = shared_root
    root = tmp_path / "data"
    [result] = download_datasets(["cora"], root, mirror=server.url, retries=0,
                                 progress=False, echo=lambda s: None)
    assert len(result.files) == 8
    assert [c.status for c in verify_dataset("cora", root)] == ["ok"] * 8

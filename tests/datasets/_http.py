"""A loopback HTTP server for the download tests: serves a folder, can drop a connection
mid-file, honours (or ignores) Range, records every request."""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(BaseHTTPRequestHandler):
    """GET of files under ``server.root``; honours Range unless ``server.honour_range`` is
    false; for a path in ``server.drop`` sends only that many body bytes once, then closes."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        path = srv.root / urllib.parse.unquote(self.path.lstrip("/"))
        if srv.fail.get(self.path):  # a server error, that many times
            srv.fail[self.path] -= 1
            self.send_error(503, "Service Unavailable")
            return
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and srv.honour_range:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        cut = srv.drop.pop(self.path, None)
        if cut is not None:  # a dropped connection: part of the body, then the socket closes
            self.wfile.write(data[start:start + cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data[start:])

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(root: Path) -> Iterator[ThreadingHTTPServer]:
    """Serve ``root`` on ``127.0.0.1:<free port>`` in a thread; the server has ``url``,
    ``requests`` (``(path, Range header)`` pairs), ``drop`` (path -> body bytes sent once before
    the connection closes), ``fail`` (path -> how many 503 answers first) and
    ``honour_range``."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.root, srv.requests, srv.drop, srv.fail, srv.honour_range = root, [], {}, {}, True
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()

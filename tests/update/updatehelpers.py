"""What `sipcheck data update` tests share: MIC-layout files, a Shift_JIS page like MIC's, a loopback site.

The site is a real `http.server.ThreadingHTTPServer` on 127.0.0.1 (a free port) in a thread; each
path serves bytes with a chosen status, Content-Length (true, false or absent), pace or redirect,
so the fetcher's limits can be shown against real sockets. Nothing here leaves loopback.
"""

from __future__ import annotations

import html
import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openpyxl
import xlwt

XLS_HEADER = ("番号区画コード", "番号", "市外局番", "市内局番", "事業者", "使用状況", "備考")
EXIT_OK, EXIT_ERROR = 0, 4


def fixed_xls(a1: str, rows: Sequence[Sequence[object]]) -> bytes:
    """MIC's fixed-line layout (.xls): A1 the era as-of date, row 2 the header, one block per row."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Sheet1")
    sheet.write(0, 0, a1)
    for col, title in enumerate(XLS_HEADER):
        sheet.write(1, col, title)
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def matrix_xlsx(as_of: str, title: str, rows: Sequence[Sequence[object]]) -> bytes:
    """MIC's matrix layout (.xlsx): a title, the as-of date, the 0–9 header, then prefix + 10 cells."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([title])
    sheet.append([as_of])
    sheet.append(["番号", *[str(d) for d in range(10)]])
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def mic_page(items: Sequence[tuple[str, Sequence[tuple[str, str]]]], *, extra: str = "") -> bytes:
    """A page shaped like MIC's number_shitei.html, in Shift_JIS: one <li> per range.

    ``items``: (label, [(href, link text), ...]); a PDF link comes first in each item, as on MIC's page.
    """
    lines = []
    for number, (label, links) in enumerate(items):
        anchors = "、".join(f'<a href="{html.escape(href)}">{text}</a>' for href, text in links)
        lines.append(f'<li>{label}[<a href="/main_content/9{number:05d}.pdf">PDF形式</a>、{anchors}]</li>')
    body = (
        '<!DOCTYPE html>\n<html lang="ja"><head>'
        '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
        "<title>総務省｜電気通信番号の利用・指定｜電気通信番号指定状況</title></head><body>"
        "<h1>電気通信番号指定状況</h1><p>本ページに掲載している電気通信番号の指定状況は、令和6年10月1日時点のものです。</p>"
        f"<h3>固定電話の電話番号</h3><ul>{''.join(lines)}</ul>{extra}"
        '<p><a href="/main_sosiki/joho_tsusin/top/tel_number/index.html">電気通信番号の利用・指定</a></p>'
        "</body></html>"
    )
    return body.encode("cp932")


@dataclass
class Route:
    """What one path answers: status and body, and how (declared length, pace, redirect)."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/octet-stream"
    declared_length: int | None = -1  # -1: the true length; None: no Content-Length header
    drip_s: float = 0.0  # pause between bytes (a slow server)
    location: str | None = None


@dataclass
class Site:
    """The routes a loopback server answers, and the paths it was asked for (in order)."""

    port: int
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, body: bytes, **options: object) -> str:
        self.routes[path] = Route(body, **options)  # type: ignore[arg-type]
        return self.url(path)


@contextmanager
def serve_site() -> Iterator[Site]:
    site = Site(0)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            site.requests.append(path)
            route = site.routes.get(path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            self.send_response(route.status)
            if route.location:
                self.send_header("Location", route.location)
            self.send_header("Content-Type", route.content_type)
            if route.declared_length is not None:
                length = len(route.body) if route.declared_length < 0 else route.declared_length
                self.send_header("Content-Length", str(length))
            self.end_headers()
            try:
                if route.drip_s:
                    for i in range(len(route.body)):
                        self.wfile.write(route.body[i : i + 1])
                        self.wfile.flush()
                        time.sleep(route.drip_s)
                else:
                    self.wfile.write(route.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="mic-site", daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def cli_env(tmp_path: Path, redis_url: str, page_url: str, **settings: str) -> dict[str, str]:
    """The environment of a `sipcheck` run against one test's Redis and one test's page."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIPCHECK_") and "proxy" not in k.lower()}
    env["NO_PROXY"] = env["no_proxy"] = "*"  # loopback only, even on a machine with a proxy configured
    env["SIPCHECK_DATA_DIR"] = str(tmp_path / "data")
    env["SIPCHECK_REDIS__URL"] = redis_url
    env["SIPCHECK_DATA__UPDATE_URL"] = page_url
    for key, value in settings.items():
        env[f"SIPCHECK_{key.upper()}"] = value
    return env


def sipcheck(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sipcheck.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )

"""The downloader's bounds against a real loopback server: size, time, scheme, truncation, HTTP errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from updatehelpers import Site, closed_port, silent_port

from sipcheck.update.fetch import FetchError, fetch_bytes, fetch_file


def fetch(url: str, *, timeout_s: float = 5, max_bytes: int = 1000) -> bytes:
    return fetch_bytes(url, timeout_s=timeout_s, max_bytes=max_bytes)


def problem(url: str, **limits: float) -> str:
    with pytest.raises(FetchError) as exc:
        fetch(url, **limits)  # type: ignore[arg-type]
    assert exc.value.url == url
    assert str(exc.value) == f"{url}: {exc.value.problem}"
    return exc.value.problem


def test_body_and_file(site: Site, tmp_path: Path) -> None:
    url = site.add("/a.xlsx", b"x" * 1000)
    assert fetch(url) == b"x" * 1000  # exactly the cap is allowed
    assert fetch_file(url, tmp_path / "a.xlsx", timeout_s=5, max_bytes=1000).read_bytes() == b"x" * 1000


def test_size_cap_by_content_length_and_while_reading(site: Site) -> None:
    declared = site.add("/declared.xlsx", b"x" * 1001)
    undeclared = site.add("/undeclared.xlsx", b"x" * 200_000, declared_length=None)
    assert problem(declared) == "1001 bytes is over the limit of 1000 (data.update_max_bytes)"
    assert problem(undeclared) == "more than 1000 bytes: over the limit (data.update_max_bytes)"
    assert fetch(undeclared, max_bytes=200_000) == b"x" * 200_000


def test_cut_short_download(site: Site) -> None:
    url = site.add("/short.xlsx", b"x" * 100, declared_length=500)
    assert problem(url) == "download cut short: 100 of 500 bytes"


def test_total_timeout_against_a_dripping_server(site: Site) -> None:
    url = site.add("/slow.xlsx", b"x" * 100, drip_s=0.05)
    started = time.monotonic()
    assert problem(url, timeout_s=0.5) == "timed out after 0.5 s (data.update_timeout_s)"
    assert time.monotonic() - started < 2


def test_silent_and_closed_ports() -> None:
    with silent_port() as port:
        url = f"http://127.0.0.1:{port}/number_shitei.html"
        started = time.monotonic()
        assert problem(url, timeout_s=0.5) == "timed out after 0.5 s (data.update_timeout_s)"
        assert time.monotonic() - started < 2
    assert problem(f"http://127.0.0.1:{closed_port()}/x.xls") == "connection refused"


def test_http_errors_and_redirects(site: Site) -> None:
    assert problem(site.url("/nothing.xls")) == "HTTP 404 Not Found"
    broken = site.add("/broken.xls", b"oops", status=500)
    assert problem(broken).startswith("HTTP 500")
    target = site.add("/new/a.xls", b"moved")
    moved = site.add("/old/a.xls", b"", status=302, location="/new/a.xls")
    assert fetch(moved) == b"moved"
    assert site.requests[-2:] == ["/old/a.xls", "/new/a.xls"]
    assert target.endswith("/new/a.xls")
    to_ftp = site.add("/ftp.xls", b"", status=302, location="ftp://127.0.0.1/a.xls")
    assert "only http and https are allowed" in problem(to_ftp)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/a.xls", "data:,hello", "127.0.0.1/a.xls", "http:///a.xls"]
)
def test_only_http_urls(url: str) -> None:
    assert problem(url) == "not an http or https URL"

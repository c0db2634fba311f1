"""`sipcheck data update` as a timer runs it: a real process, a real Redis, a real HTTP server on loopback.

The site serves a Shift_JIS page shaped like MIC's number_shitei.html (relative links, a PDF and an
Excel link per range) and real .xls/.xlsx files in MIC's layouts. Every failure must leave the
published data exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from updatehelpers import (
    EXIT_ERROR,
    EXIT_OK,
    Site,
    cli_env,
    closed_port,
    fixed_xls,
    matrix_xlsx,
    mic_page,
    silent_port,
    sipcheck,
)

from sipcheck.cache import EmbeddedRedis

PAGE = "/main_sosiki/joho_tsusin/top/tel_number/number_shitei.html"
FIXED_03 = fixed_xls(
    "令和6年9月1日現在",
    [
        ["", "", "03", "5253", "ＮＴＴ東日本", "使用中", ""],
        ["", "", "03", "5254", "ＫＤＤＩ株式会社", "使用中", ""],
        ["", "", "03", "5255", "", "未使用", ""],
    ],
)
IP_050_SEPTEMBER = matrix_xlsx(
    "令和6年9月16日現在",
    "050番号の指定状況",
    [["050100", "ソフトバンク株式会社", *[None] * 9], ["050101", None, "サンプルＩＰ電話株式会社"]],
)
IP_050_OCTOBER = matrix_xlsx(
    "令和6年10月1日現在",
    "050番号の指定状況",
    [
        ["050100", "ソフトバンク株式会社", "ソフトバンク株式会社", *[None] * 8],
        ["050101", None, "サンプルＩＰ電話株式会社"],
    ],
)


def status(env: dict[str, str]) -> dict[str, Any]:
    result = sipcheck(env, "data", "status", "--json", "--date", "2024-10-15")
    assert result.returncode == EXIT_OK, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def coverage(env: dict[str, str]) -> dict[str, tuple[str, str, int]]:
    """range → (as of, source, blocks) as `data status --json` shows it."""
    return {row["range"]: (row["as_of"], row["source"], row["blocks"]) for row in status(env)["coverage"]}


def publish_site(site: Site, files: dict[str, bytes], *, extra: str = "") -> dict[str, str]:
    """Serve ``files`` under /main_content/ and a page linking them; name → absolute URL."""
    urls = {name: site.add(f"/main_content/{name}", body) for name, body in files.items()}
    items = [(f"label of {name}", [(f"/main_content/{name}", "Excel形式")]) for name in files]
    site.add(PAGE, mic_page(items, extra=extra), content_type="text/html; charset=Shift_JIS")
    return urls


@pytest.fixture
def env(tmp_path: Path, redis_server: EmbeddedRedis, site: Site) -> dict[str, str]:
    return cli_env(tmp_path, redis_server.url, site.url(PAGE), data__update_timeout_s="5")


def test_update_publishes_every_range_with_url_and_as_of(env: dict[str, str], site: Site) -> None:
    page = mic_page(
        [
            ("3から始まる市外局番", [("/main_content/000697543.xls", "Excel形式")]),
            ("IP電話の電話番号（050）", [("../../../../main_content/000697573.xlsx", "Excel形式")]),
        ]
    )
    site.add(PAGE, page, content_type="text/html")
    fixed = site.add("/main_content/000697543.xls", FIXED_03)
    ip = site.add("/main_content/000697573.xlsx", IP_050_SEPTEMBER)

    result = sipcheck(env, "data", "update")

    assert result.returncode == EXIT_OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["RANGE", "AS", "OF", "ACTION", "SOURCE"]
    assert lines[1].split() == ["03", "2024-09-01", "replaced", fixed]
    assert lines[2].split() == ["050", "2024-09-16", "replaced", ip]
    assert lines[-1].startswith("blocks: 2 range(s) replaced; published data version ")
    body = status(env)
    assert body["data_version"] and body["data_version"] in lines[-1]
    assert coverage(env) == {"03": ("2024-09-01", fixed, 2), "050": ("2024-09-16", ip, 2)}
    assert set(body["components"]["blocks"]["sources"]) == {fixed, ip}
    assert site.requests == [PAGE, "/main_content/000697543.xls", "/main_content/000697573.xlsx"]


def test_an_unchanged_page_publishes_nothing(env: dict[str, str], site: Site) -> None:
    """The daily timer on a page MIC did not change: no new data version."""
    publish_site(site, {"000697543.xls": FIXED_03, "000697573.xlsx": IP_050_SEPTEMBER})
    assert sipcheck(env, "data", "update").returncode == EXIT_OK
    before = status(env)["data_version"]
    again = sipcheck(env, "data", "update")
    assert again.returncode == EXIT_OK, again.stderr
    assert "nothing newer than the live data; nothing was published" in again.stdout
    assert [line.split()[2] for line in again.stdout.splitlines()[1:3]] == ["unchanged", "unchanged"]
    assert status(env)["data_version"] == before


def test_an_older_file_never_rolls_the_data_back_unless_asked(env: dict[str, str], site: Site) -> None:
    """A stale mirror offering September's 050 file after October's was loaded keeps October's."""
    publish_site(site, {"000701000.xlsx": IP_050_OCTOBER})
    assert sipcheck(env, "data", "update").returncode == EXIT_OK
    site.routes.clear()
    publish_site(site, {"000697543.xls": FIXED_03, "000697573.xlsx": IP_050_SEPTEMBER})
    result = sipcheck(env, "data", "update")
    assert result.returncode == EXIT_OK, result.stderr
    assert "050: the file offered (2024-09-16) is older than the live data (2024-10-01" in result.stderr
    rows = {c: v[0] for c, v in coverage(env).items()}
    assert rows == {"03": "2024-09-01", "050": "2024-10-01"}  # 03 is news, 050 kept
    forced = sipcheck(env, "data", "update", "--allow-older")
    assert forced.returncode == EXIT_OK, forced.stderr
    assert coverage(env)["050"][0] == "2024-09-16"


def test_a_later_update_replaces_only_the_ranges_it_covers(env: dict[str, str], site: Site) -> None:
    urls = publish_site(site, {"000697543.xls": FIXED_03, "000697573.xlsx": IP_050_SEPTEMBER})
    assert sipcheck(env, "data", "update").returncode == EXIT_OK
    site.routes.clear()
    newer = publish_site(site, {"000701000.xlsx": IP_050_OCTOBER})

    result = sipcheck(env, "data", "update")

    assert result.returncode == EXIT_OK, result.stderr
    assert coverage(env) == {
        "03": ("2024-09-01", urls["000697543.xls"], 2),  # kept: the page no longer offered a 03 file
        "050": ("2024-10-01", newer["000701000.xlsx"], 3),
    }


@pytest.mark.parametrize("newer_first", [True, False], ids=["newer-listed-first", "newer-listed-last"])
def test_two_files_for_one_range_the_newer_inside_wins(
    env: dict[str, str], site: Site, newer_first: bool
) -> None:
    # The newer file has the smaller number and, in one case, the later place: only its A2 tells.
    newer = site.add("/main_content/000690001.xlsx", IP_050_OCTOBER)
    older = site.add("/main_content/000710002.xlsx", IP_050_SEPTEMBER)
    links = [("/main_content/000690001.xlsx", "Excel形式"), ("/main_content/000710002.xlsx", "")]
    site.add(PAGE, mic_page([("IP電話の電話番号（050）", links if newer_first else links[::-1])]))

    result = sipcheck(env, "data", "update")

    assert result.returncode == EXIT_OK, result.stderr
    assert ["050", "2024-10-01", "replaced", newer] in [line.split() for line in result.stdout.splitlines()]
    assert f"not used (a newer file covers its ranges): {older}" in result.stdout
    assert coverage(env) == {"050": ("2024-10-01", newer, 3)}
    assert status(env)["components"]["blocks"]["sources"] == [newer]


def test_corrupt_file_publishes_nothing_and_names_its_url(env: dict[str, str], site: Site) -> None:
    publish_site(site, {"000697543.xls": FIXED_03, "000697573.xlsx": IP_050_SEPTEMBER})
    assert sipcheck(env, "data", "update").returncode == EXIT_OK
    before = status(env)
    site.routes.clear()
    urls = publish_site(
        site, {"000701000.xls": FIXED_03, "000701001.xlsx": IP_050_OCTOBER[: len(IP_050_OCTOBER) // 2]}
    )

    result = sipcheck(env, "data", "update")

    assert result.returncode == EXIT_ERROR
    assert "000701001.xlsx:0::: not a readable .xlsx workbook" in result.stderr
    assert f"in 000701001.xlsx from {urls['000701001.xlsx']}" in result.stderr
    assert "nothing was published, the live data is unchanged" in result.stderr
    assert result.stdout == ""
    assert status(env) == before


def test_bad_row_is_named_and_nothing_changes(env: dict[str, str], site: Site) -> None:
    publish_site(site, {"000697573.xlsx": IP_050_SEPTEMBER})
    assert sipcheck(env, "data", "update").returncode == EXIT_OK
    before = status(env)
    bad = fixed_xls("令和6年10月1日現在", [["", "", "03", "1234", "ＮＴＴ東日本", "使用中", ""]])
    site.routes.clear()
    publish_site(site, {"000701000.xls": bad, "000701001.xlsx": IP_050_OCTOBER})

    result = sipcheck(env, "data", "update")

    assert result.returncode == EXIT_ERROR
    assert "000701000.xls:3:市内局番:1234:" in result.stderr
    assert status(env) == before


def test_page_without_mic_files_is_a_clear_error(env: dict[str, str], site: Site) -> None:
    extra = '<p><a href="/main_content/000000001.pdf">PDF形式</a> <a href="other.html">other</a></p>'
    site.add(PAGE, mic_page([], extra=extra))

    result = sipcheck(env, "data", "update")

    assert result.returncode == EXIT_ERROR
    assert f"{site.url(PAGE)}: the page links no .xls/.xlsx file" in result.stderr
    assert status(env)["data_version"] == ""


def test_missing_file_on_the_server_names_its_url(env: dict[str, str], site: Site) -> None:
    urls = publish_site(site, {"000697543.xls": FIXED_03, "000697573.xlsx": IP_050_SEPTEMBER})
    del site.routes["/main_content/000697573.xlsx"]

    result = sipcheck(env, "data", "update")

    assert result.returncode == EXIT_ERROR
    assert f"{urls['000697573.xlsx']}: HTTP 404 Not Found" in result.stderr
    assert status(env)["data_version"] == ""


def test_unreachable_server_is_a_clear_error(env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/number_shitei.html"

    result = sipcheck({**env, "SIPCHECK_DATA__UPDATE_URL": url}, "data", "update")

    assert result.returncode == EXIT_ERROR
    assert f"{url}: connection refused" in result.stderr


def test_silent_server_times_out_within_the_timeout(env: dict[str, str]) -> None:
    with silent_port() as port:
        url = f"http://127.0.0.1:{port}/number_shitei.html"
        started = time.monotonic()
        result = sipcheck(
            {**env, "SIPCHECK_DATA__UPDATE_URL": url, "SIPCHECK_DATA__UPDATE_TIMEOUT_S": "1"},
            "data",
            "update",
        )
        elapsed = time.monotonic() - started
    assert result.returncode == EXIT_ERROR
    assert f"{url}: timed out after 1 s" in result.stderr
    assert elapsed < 10  # 1 s of waiting plus the interpreter's start


def test_file_over_the_size_cap_is_refused(env: dict[str, str], site: Site) -> None:
    names = [
        [hashlib.sha256(f"{row}{col}".encode()).hexdigest() for col in range(10)] for row in range(100, 200)
    ]
    big = matrix_xlsx(
        "令和6年9月16日現在", "050", [[f"050{row}", *cells] for row, cells in enumerate(names, 100)]
    )
    urls = publish_site(site, {"000697543.xls": FIXED_03, "000697573.xlsx": big})
    cap = max(len(site.routes[PAGE].body), len(FIXED_03)) + 1
    assert len(big) > cap

    result = sipcheck({**env, "SIPCHECK_DATA__UPDATE_MAX_BYTES": str(cap)}, "data", "update")

    assert result.returncode == EXIT_ERROR
    assert f"{urls['000697573.xlsx']}: {len(big)} bytes is over the limit of {cap}" in result.stderr
    assert status(env)["data_version"] == ""


def test_offline_copy_gives_the_same_result(env: dict[str, str], site: Site, tmp_path: Path) -> None:
    urls = publish_site(
        site,
        {"000697543.xls": FIXED_03, "000690001.xlsx": IP_050_OCTOBER, "000710002.xlsx": IP_050_SEPTEMBER},
    )
    online = sipcheck(env, "data", "update")
    assert online.returncode == EXIT_OK, online.stderr
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "number_shitei.html").write_bytes(site.routes[PAGE].body)
    for name in urls:
        (copy / name).write_bytes(site.routes[f"/main_content/{name}"].body)
    offline_env = {**env, "SIPCHECK_REDIS__KEY_PREFIX": "offline"}  # a second, empty data set
    asked = len(site.requests)

    offline = sipcheck(offline_env, "data", "update", "--from", str(copy))

    assert offline.returncode == EXIT_OK, offline.stderr
    assert len(site.requests) == asked  # not one request: the copy is enough
    assert offline.stdout.splitlines()[:-1] == online.stdout.splitlines()[:-1]
    assert coverage(offline_env) == coverage(env)
    assert (
        status(offline_env)["components"]["blocks"]["sources"]
        == status(env)["components"]["blocks"]["sources"]
    )
    # The page may be saved under another name, if it is the only page in the copy.
    (copy / "number_shitei.html").rename(copy / "電気通信番号指定状況.htm")
    assert sipcheck(offline_env, "data", "update", "--from", str(copy)).returncode == EXIT_OK


def test_offline_copy_missing_a_file_publishes_nothing(
    env: dict[str, str], site: Site, tmp_path: Path
) -> None:
    publish_site(site, {"000697543.xls": FIXED_03, "000697573.xlsx": IP_050_SEPTEMBER})
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "number_shitei.html").write_bytes(site.routes[PAGE].body)
    (copy / "000697543.xls").write_bytes(FIXED_03)

    result = sipcheck(env, "data", "update", "--from", str(copy))

    assert result.returncode == EXIT_ERROR
    assert "000697573.xlsx (linked as " in result.stderr and "does not hold" in result.stderr
    assert status(env)["data_version"] == ""
    shutil.rmtree(copy)
    gone = sipcheck(env, "data", "update", "--from", str(copy))
    assert gone.returncode == EXIT_ERROR and "no such directory" in gone.stderr


def test_update_url_must_be_http(env: dict[str, str], tmp_path: Path) -> None:
    page = tmp_path / "number_shitei.html"
    page.write_bytes(mic_page([]))

    result = sipcheck({**env, "SIPCHECK_DATA__UPDATE_URL": page.as_uri()}, "data", "update")

    assert result.returncode == EXIT_ERROR
    assert "not an http or https URL" in result.stderr

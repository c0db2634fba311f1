"""MIC's designation page (電気通信番号指定状況, number_shitei.html) → the spreadsheet files it links.

Pure: bytes and a base URL in, links out; no network. The page is Shift_JIS and lists each
range as a list item such as ``9から始まる市外局番[PDF形式、Excel形式]`` whose links are relative
(``/main_content/000697543.xls``); a range may list a new and an old file side by side, and an
old one may be linked by an image with no text. Which file is newest is *not* decided here:
MIC's link order and file names say nothing reliable about it, the file's own as-of date does
(`sipcheck.importers.load_mic` compares them), so every spreadsheet link is returned.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

PAGE_ENCODING: Final = "cp932"
"""MIC serves Shift_JIS; cp932 is the superset Windows (and so MIC's authoring tools) write."""

SPREADSHEET_SUFFIXES: Final = (".xls", ".xlsx")

_CHARSET: Final = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
# Elements whose text names the links inside them (the list item, the table cell, the paragraph).
_LABEL_ELEMENTS: Final = frozenset(
    {"li", "p", "td", "th", "dt", "dd", "div", "h1", "h2", "h3", "h4", "h5", "h6"}
)
_LABEL_PUNCTUATION: Final = " []［］、,・:：　"  # around a label; not its (050)


@dataclass(frozen=True, slots=True)
class FileLink:
    """One spreadsheet the page links: absolute URL, the link's own text, the text naming it.

    ``label`` is the text before the link in its list item or cell (「1から始まる市外局番」), since
    MIC's link texts only say the format (「Excel形式」) and sometimes nothing at all.
    """

    url: str
    text: str
    label: str

    @property
    def name(self) -> str:
        """The file name the URL ends in (percent-decoded), which is how an offline copy names it."""
        return unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])


def decode_page(data: bytes) -> str:
    """The page as text: the charset its <meta> declares if Python knows it, else Shift_JIS.

    A copy saved by a browser or an editor may have been re-encoded (and say so in <meta>); MIC's
    own page is Shift_JIS. Undecodable bytes become U+FFFD: the links are ASCII, a damaged
    character in a label must not fail the update.
    """
    encoding = PAGE_ENCODING
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    else:
        match = _CHARSET.search(data[:4096])
        if match:
            declared = match.group(1).decode("ascii").lower()
            if declared in ("utf-8", "utf8"):
                encoding = "utf-8"
    return data.decode(encoding, errors="replace")


def file_links(html: str, page_url: str) -> list[FileLink]:
    """Every .xls/.xlsx link of the page, resolved against ``page_url`` (or the page's <base>).

    Only http/https links count; duplicates (the same URL linked twice, or with a different
    fragment) are listed once, at their first place, keeping the first non-empty text.
    """
    parser = _LinkParser(page_url)
    parser.feed(html)
    parser.close()
    found: dict[str, FileLink] = {}
    for link in parser.links:
        earlier = found.get(link.url)
        if earlier is None:
            found[link.url] = link
        elif not earlier.text and link.text:
            found[link.url] = FileLink(earlier.url, link.text, earlier.label or link.label)
    return list(found.values())


def is_spreadsheet(url: str) -> bool:
    path = urlsplit(url).path.lower()
    return path.endswith(SPREADSHEET_SUFFIXES)


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).strip(_LABEL_PUNCTUATION)


class _LinkParser(HTMLParser):
    """Collects <a href> with their text and the text of the enclosing label element before them."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = page_url
        self.links: list[FileLink] = []
        self._blocks: list[list[str]] = []  # text so far in each open label element
        self._last_block_text = ""
        self._href: str | None = None
        self._label = ""
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "base" and values.get("href"):
            self.base = urljoin(self.base, values["href"] or "")
        elif tag in _LABEL_ELEMENTS:
            self._blocks.append([])
        elif tag == "a":
            self._finish_link()
            href = (values.get("href") or "").strip()
            if href:
                self._href = href
                self._text = []
                before = _clean("".join(self._blocks[-1])) if self._blocks else ""
                self._label = before or self._last_block_text

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._finish_link()
        elif tag in _LABEL_ELEMENTS and self._blocks:
            text = _clean("".join(self._blocks.pop()))
            if text:
                self._last_block_text = text
            if self._blocks:
                self._blocks[-1].append(text)

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)
        elif self._blocks:
            self._blocks[-1].append(data)

    def close(self) -> None:
        super().close()
        self._finish_link()

    def _finish_link(self) -> None:
        if self._href is None:
            return
        url, _fragment = urldefrag(urljoin(self.base, self._href))
        if urlsplit(url).scheme in ("http", "https") and is_spreadsheet(url):
            self.links.append(FileLink(url, _clean("".join(self._text)), self._label))
        self._href = None
        self._text = []

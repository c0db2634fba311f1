"""RFC 3261 syntax checks on a request, before the agent acts on it: what RFC 4475 says to refuse.

Why: the front answers OPTIONS itself and relays INVITEs, so a lenient reading would answer
``200 OK`` to a request no conforming element accepts (a CSeq naming another method, spaces inside
an addr-spec, a display name that is neither a token nor a quoted string) and pass it on. Each check
names what is wrong, so the ``400`` says it in a ``Warning`` and a peer's engineer can fix it.

Only what the agent itself depends on, or what RFC 4475 lists as invalid, is checked; anything
RFC 3261 allows (folded lines, odd but legal whitespace, escaped quotes, unknown parameters, RFC
2543 requests without Max-Forwards) passes. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sipcheck.sip.sipmsg import SipMessage

TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
_REQUEST_LINE = re.compile(rf"({TOKEN}) (\S+) SIP/(\d+\.\d+)")
_TOKEN = re.compile(TOKEN)
_CSEQ = re.compile(rf"(\d{{1,10}})\s+({TOKEN})")
_DIGITS = re.compile(r"\d{1,10}")

REQUIRED = ("via", "from", "to", "call-id", "cseq")
SINGLE = ("from", "to", "call-id", "cseq", "content-length", "max-forwards", "expires")
MAX_CSEQ = 2**31 - 1
MAX_DELTA = 2**32 - 1
URI_SCHEMES = ("sip", "sips", "tel")


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """Why a request is refused: the response code, its reason phrase, and what is wrong."""

    code: int
    reason: str
    detail: str

    def warning(self) -> tuple[str, str]:
        """A ``Warning`` header (RFC 3261 20.43; 399 = miscellaneous) saying what is wrong."""
        text = self.detail.replace("\\", "\\\\").replace('"', '\\"')
        return ("Warning", f'399 sipcheck "{text}"')


def _bad(detail: str) -> SyntaxProblem:
    return SyntaxProblem(400, "Bad Request", detail)


def request_problem(data: bytes, msg: SipMessage, *, datagram: bool) -> SyntaxProblem | None:
    """The first thing wrong with request ``data`` (parsed as ``msg``), or None when it is well-formed.

    ``datagram``: the message is one UDP datagram, so a Content-Length larger than what follows the
    header is an error (RFC 3261 18.3); over TCP pjsip frames the message by it.
    """
    head, _, body = data.partition(b"\r\n\r\n")
    first = head.split(b"\r\n", 1)[0].split(b"\n", 1)[0].decode("utf-8", "replace")
    line = _REQUEST_LINE.fullmatch(first)
    if line is None:
        return _bad(f"malformed Request-Line {first[:80]!r} (one space between method, URI and version)")
    method, uri, version = line.groups()
    if version != "2.0":
        return SyntaxProblem(505, "Version Not Supported", f"SIP version {version}")
    problem = _request_uri_problem(uri)
    if problem is not None:
        return problem
    for name in REQUIRED:
        if msg.get(name) is None:
            return _bad(f"missing {name.title()} header")
    for name in SINGLE:
        if len(msg.all(name)) > 1:
            return _bad(f"more than one {name.title()} header")
    return (
        _cseq_problem(msg.get("cseq") or "", method)
        or _number_problem(msg, "max-forwards", 255)
        or _number_problem(msg, "expires", MAX_DELTA)
        or _length_problem(msg, body, datagram)
        or _address_problem(msg)
        or _via_problem(msg)
    )


def _request_uri_problem(uri: str) -> SyntaxProblem | None:
    if uri.startswith("<"):
        return _bad(f"Request-URI {uri[:80]!r} must not be enclosed in <>")
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    if scheme not in URI_SCHEMES:
        return SyntaxProblem(416, "Unsupported URI Scheme", f"Request-URI scheme {scheme or uri[:40]!r}")
    if scheme in ("sip", "sips") and "?" in _after_user(uri):
        return _bad("headers (?...) are not allowed in a Request-URI")
    return None


def _after_user(uri: str) -> str:
    """The URI after its userinfo: a ``?`` there starts headers; in the user part it is a plain character."""
    return uri.rsplit("@", 1)[-1]


def _cseq_problem(value: str, method: str) -> SyntaxProblem | None:
    cseq = _CSEQ.fullmatch(value.strip())
    if cseq is None or int(cseq.group(1)) > MAX_CSEQ:
        return _bad(f"CSeq {value[:60]!r} is not 'number method' with number < 2**31")
    if cseq.group(2) != method:
        return _bad(f"CSeq method {cseq.group(2)} does not match the request's {method}")
    return None


def _number_problem(msg: SipMessage, name: str, limit: int) -> SyntaxProblem | None:
    value = msg.get(name)
    if value is None:
        return None
    if _DIGITS.fullmatch(value.strip()) is None or int(value) > limit:
        return _bad(f"{name.title()} {value[:40]!r} is not a number from 0 to {limit}")
    return None


def _length_problem(msg: SipMessage, body: bytes, datagram: bool) -> SyntaxProblem | None:
    value = msg.get("content-length")
    if value is None:
        return None
    if _DIGITS.fullmatch(value.strip()) is None:
        return _bad(f"Content-Length {value[:40]!r} is not a non-negative number")
    if datagram and int(value) > len(body):
        return _bad(f"Content-Length {int(value)} is larger than the {len(body)} body bytes in the datagram")
    return None


def _address_problem(msg: SipMessage) -> SyntaxProblem | None:
    for name in ("from", "to"):
        detail = address_problem(msg.get(name) or "")
        if detail is not None:
            return _bad(f"{name.title()}: {detail}")
    for value in msg.all("contact"):
        if value.strip() == "*":
            continue
        for item in split_list(value):
            detail = address_problem(item)
            if detail is not None:
                return _bad(f"Contact: {detail}")
    return None


def _via_problem(msg: SipMessage) -> SyntaxProblem | None:
    for value in msg.all("via"):
        for item in split_list(value):
            if not item.strip():
                return _bad("empty Via value")
            if _empty_param(item):
                return _bad(f"empty parameter in Via {item[:60]!r}")
    return None


def split_list(value: str) -> list[str]:
    """A header's comma-separated values, commas inside quotes or <> not counting."""
    items: list[str] = []
    current: list[str] = []
    quoted = bracket = escaped = False
    for ch in value:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"' and not bracket:
            quoted = not quoted
        elif ch == "<" and not quoted:
            bracket = True
        elif ch == ">" and not quoted:
            bracket = False
        elif ch == "," and not quoted and not bracket:
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    return items


def _empty_param(params: str) -> bool:
    """A ``;;`` or a trailing ``;`` in a parameter list."""
    return any(not p.strip() for p in params.split(";")[1:])


def _quoted_end(text: str) -> int | None:
    """Index just past the quoted-string ``text`` starts with, or None when it never closes."""
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return None


def address_problem(value: str) -> str | None:
    """What is wrong with a From/To/Contact value (name-addr or addr-spec, then header parameters)."""
    text = value.strip()
    if not text:
        return "empty"
    if text.startswith('"'):
        end = _quoted_end(text)
        if end is None:
            return "unterminated quoted display name"
        rest = text[end:].lstrip()
        if not rest.startswith("<"):
            return "a quoted display name must be followed by <URI>"
        return _bracketed_problem(rest)
    if "<" in text:
        display = text[: text.index("<")].strip()
        for word in display.split():
            if _TOKEN.fullmatch(word) is None:
                return f"display name {display[:40]!r} is neither tokens nor a quoted string"
        return _bracketed_problem(text[text.index("<") :])
    uri, _, params = text.partition(";")
    if any(ch.isspace() for ch in uri.strip()):
        return f"spaces inside the address {uri.strip()[:60]!r}"
    if "?" in _after_user(uri) or "," in uri:
        return f"an address with ? or , must be enclosed in <>: {uri[:60]!r}"
    if _empty_param(";" + params if params else ""):
        return "empty header parameter"
    return None


def _bracketed_problem(text: str) -> str | None:
    """``<URI>`` then header parameters."""
    end = text.find(">")
    if end == -1:
        return "unterminated <URI>"
    uri = text[1:end]
    if not uri or any(ch.isspace() for ch in uri):
        return f"spaces inside <{uri[:60]}>"
    tail = text[end + 1 :].strip()
    if tail and not tail.startswith(";"):
        return f"unexpected {tail[:30]!r} after <URI>"
    if _empty_param(tail):
        return "empty header parameter"
    return None

"""Just enough SIP text handling for the agent: headers, the caller's identity, and front responses.

pjsua2 hands us each incoming INVITE as text (``SipRxData.wholeMsg``); the UDP
front sees raw datagrams. Both need the same few facts (method, Call-ID, the
caller, the To tag) and the front must build a correct stateless response (503,
403) without pjsip. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sipcheck.numbers import is_anonymous

COMPACT = {
    "f": "from",
    "t": "to",
    "i": "call-id",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
}
"""RFC 3261 compact header names, expanded to the long lower-case name."""


_VERSION_END = re.compile(r" SIP/\d+\.\d+$")
"""A request line ends with a SIP version; another one than 2.0 gets its 505 from `sipcheck.sip.strict`."""


class SipParseError(ValueError):
    """A datagram or message that is not SIP enough to act on."""


@dataclass(frozen=True, slots=True)
class SipMessage:
    """The head of a SIP message: start line and headers in order (names lower-case, long form)."""

    start: str
    headers: tuple[tuple[str, str], ...]

    @property
    def is_request(self) -> bool:
        return not self.start.startswith("SIP/2.0 ")

    @property
    def method(self) -> str:
        """Request method, or the CSeq method of a response."""
        if self.is_request:
            return self.start.split(" ", 1)[0].upper()
        cseq = self.get("cseq") or ""
        return cseq.split()[-1].upper() if cseq.split() else ""

    @property
    def status(self) -> int | None:
        if self.is_request:
            return None
        try:
            return int(self.start.split()[1])
        except (IndexError, ValueError):
            return None

    @property
    def request_uri(self) -> str:
        parts = self.start.split()
        return parts[1] if self.is_request and len(parts) >= 3 else ""

    def get(self, name: str) -> str | None:
        """First value of header ``name`` (any case, compact or long form)."""
        key = COMPACT.get(name.lower(), name.lower())
        for hname, value in self.headers:
            if hname == key:
                return value
        return None

    def all(self, name: str) -> list[str]:
        key = COMPACT.get(name.lower(), name.lower())
        return [value for hname, value in self.headers if hname == key]

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def to_tag(self) -> str | None:
        return header_param(self.get("to") or "", "tag")

    @property
    def via_branch(self) -> str | None:
        vias = self.all("via")
        return header_param(vias[0].split(",", 1)[0], "branch") if vias else None


def parse_message(data: bytes | str) -> SipMessage:
    """Parse the start line and headers; the body is ignored. Raises `SipParseError`."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    head = text.split("\r\n\r\n", 1)[0].split("\n\n", 1)[0]
    lines = head.replace("\r\n", "\n").split("\n")
    start = lines[0].strip()
    if not start or not (start.startswith("SIP/2.0 ") or _VERSION_END.search(start)):
        raise SipParseError(f"not a SIP start line: {start[:60]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line.strip():
            continue
        if line[0] in " \t" and headers:  # folded continuation line
            name, value = headers[-1]
            headers[-1] = (name, value + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise SipParseError(f"header line without a colon: {line[:60]!r}")
        key = name.strip().lower()
        headers.append((COMPACT.get(key, key), value.strip()))
    return SipMessage(start, tuple(headers))


def header_param(value: str, name: str) -> str | None:
    """The value of ``;name=value`` in a header (outside the <URI>), or None."""
    tail = value.rsplit(">", 1)[-1] if "<" in value else value
    for param in tail.split(";")[1:]:
        key, _, val = param.partition("=")
        if key.strip().lower() == name:
            return val.strip()
    return None


def uri_of(name_addr: str) -> str:
    """The URI of a name-addr/addr-spec header value, without display name or header params."""
    value = name_addr.strip()
    if "<" in value:
        start = value.find("<")
        end = value.find(">", start)
        return value[start + 1 : end if end != -1 else len(value)]
    return value.split(";", 1)[0].strip()


def name_addr(value: str) -> str:
    """``value`` without its header parameters (the tag), keeping display name and <URI>."""
    if ">" in value:
        return value[: value.rfind(">") + 1].strip()
    return value.split(";", 1)[0].strip()


def uri_user(uri: str) -> str:
    """The user part of a sip:/sips: URI (or the number of a tel: URI); '' when there is none."""
    lowered = uri.lower()
    if lowered.startswith("tel:"):
        return uri[4:].split(";", 1)[0]
    if lowered.startswith(("sip:", "sips:")):
        rest = uri.split(":", 1)[1]
        return rest.split("@", 1)[0].split(";", 1)[0] if "@" in rest else ""
    return ""


@dataclass(frozen=True, slots=True)
class CallerId:
    """Who is calling, as the agent screens it.

    ``number`` is the URI handed to `Screener`, which decides (with `numbers.is_anonymous`, the
    one anonymity rule) whether it is an anonymous caller; ``source`` says which header it came from.
    """

    number: str
    source: str  # "p-asserted-identity" | "from"
    privacy: str | None
    from_value: str
    pai_value: str | None

    @property
    def anonymous(self) -> bool:
        return is_anonymous(self.number)


def caller_identity(msg: SipMessage, trusted: bool) -> CallerId:
    """The caller: P-Asserted-Identity when the peer is trusted (RFC 3325), else From.

    A trusted assertion that is itself anonymous is skipped (the From is screened then; an
    anonymous From is screened as anonymous, not as an invalid number). ``Privacy: id`` with a trusted
    assertion still screens the asserted number: the network knows it even if
    the callee must not see it.
    """
    from_value = msg.get("from") or ""
    privacy = msg.get("privacy")
    pai = None
    if trusted:
        for value in msg.all("p-asserted-identity"):
            for item in value.split(","):
                uri = uri_of(item)
                if uri.lower().startswith(("tel:", "sip:", "sips:")) and not is_anonymous(uri):
                    pai = item.strip()
                    break
            if pai:
                break
    if pai is not None:
        return CallerId(uri_of(pai), "p-asserted-identity", privacy, from_value, pai)
    return CallerId(uri_of(from_value), "from", privacy, from_value, None)


def build_response(
    request: SipMessage,
    code: int,
    reason: str,
    extra: tuple[tuple[str, str], ...] = (),
    to_tag: str | None = None,
) -> bytes:
    """A stateless response to ``request`` (RFC 3261 8.2.6): Vias, From, To (+tag), Call-ID, CSeq copied."""
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"Via: {v}" for v in request.all("via")]
    lines.append(f"From: {request.get('from') or ''}")
    to = request.get("to") or ""
    if header_param(to, "tag") is None and code > 100:
        to = f"{to};tag={to_tag or secrets.token_hex(6)}"
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {request.call_id}")
    lines.append(f"CSeq: {request.get('cseq') or ''}")
    lines += [f"{name}: {value}" for name, value in extra]
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def add_header(data: bytes, name: str, value: str) -> bytes:
    """Insert ``name: value`` as the last header of a raw message, body untouched."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        return head + f"\n{name}: {value}".encode() + sep + body
    return head + f"\r\n{name}: {value}".encode() + sep + body


def strip_header(data: bytes, name: str) -> bytes:
    """Remove every ``name:`` header line (case-insensitive) from a raw message's head."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return data
    prefix = name.lower().encode() + b":"
    kept = [line for line in head.split(b"\r\n") if not line.lower().replace(b" ", b"").startswith(prefix)]
    return b"\r\n".join(kept) + sep + body

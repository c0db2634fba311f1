"""Who the relay presents to the next hop: From, P-Asserted-Identity, Privacy, and the carried headers.

Pure (no pjsua2): `outbound_identity` takes the caller as screened (`CallerId`), the number the
screener parsed (`PhoneNumber`, or None when there was none) and the inbound INVITE, and returns
what the outbound INVITE says about the caller.

The caller's number is **withheld** when they asked for it: the screened number carried the 184
dial prefix (``PhoneNumber.privacy is Privacy.WITHHOLD``), or the inbound INVITE has a ``Privacy``
header with ``id`` (RFC 3325), ``header`` or ``user`` (RFC 3323). 184 wins over ``Privacy: none``:
the dialled prefix is the caller's own word. A withheld caller goes out with

- From ``"Anonymous" <sip:anonymous@anonymous.invalid>`` (RFC 3323 section 4.1.1.3),
- ``Privacy: id`` alone (the header/user privacy is done here: the From is anonymous; ``id``
  tells the next hop not to pass the assertion beyond the trust domain),
- ``P-Asserted-Identity: <tel:+81312345678>``: the normalised number as a tel URI in E.164
  (no 184 prefix, no host: the next hop is trusted and the number is all it needs). When the
  screener could parse no number, the inbound assertion goes on unchanged if there was one;
  a caller with no number at all (anonymous) gets no assertion.

Any other caller is **presented** as before: their From and P-Asserted-Identity go on, and their
``Privacy`` header (``none``, ``session``...) too. A 186 prefix (present caller ID) is taken off
the user part of From and P-Asserted-Identity: it is a dial prefix, not part of the number.

``Diversion`` (RFC 5806) and ``History-Info`` (RFC 7044) are copied to the outbound INVITE
unchanged, every instance, in their order: they tell the callee's side which number forwarded
the call. They are carried for a withheld caller too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sipcheck.numbers import PhoneNumber, Privacy
from sipcheck.sip.sipmsg import CallerId, SipMessage, name_addr, uri_of, uri_user

ANONYMOUS_FROM = '"Anonymous" <sip:anonymous@anonymous.invalid>'
"""The From of a withheld caller (RFC 3323 section 4.1.1.3)."""

WITHHOLDING_VALUES = frozenset({"id", "header", "user"})
"""``Privacy`` values that ask for the caller's identity to be kept from the callee."""

CARRIED_HEADERS = {"diversion": "Diversion", "history-info": "History-Info"}
"""Inbound headers copied to the outbound INVITE as they are: parsed (lower-case) name → name sent."""

WITHHOLD_PREFIX = "184"
PRESENT_PREFIX = "186"


@dataclass(frozen=True, slots=True)
class OutboundIdentity:
    """What the outbound INVITE says about the caller.

    ``from_value`` is the From to send (name-addr, no tag), or None to let the stack use its own;
    ``headers`` are P-Asserted-Identity, Privacy and the carried headers, in the order to send.
    """

    from_value: str | None
    headers: tuple[tuple[str, str], ...]
    withheld: bool


def privacy_values(header: str | None) -> frozenset[str]:
    """The lower-case priv-values of a ``Privacy`` header (``id;critical`` → {id, critical})."""
    if not header:
        return frozenset()
    return frozenset(v.strip().lower() for v in header.replace(",", ";").split(";") if v.strip())


def withholding_requested(caller: CallerId, number: PhoneNumber | None) -> bool:
    """Whether the caller asked for their number to be withheld (see the module docstring)."""
    if number is not None and number.privacy is Privacy.WITHHOLD:
        return True
    if number is None and _dial_prefix(caller.number) == WITHHOLD_PREFIX:
        return True  # an unparsable number dialled with 184 is still not to be shown
    return bool(privacy_values(caller.privacy) & WITHHOLDING_VALUES)


def outbound_identity(caller: CallerId, number: PhoneNumber | None, inbound: SipMessage) -> OutboundIdentity:
    """From, P-Asserted-Identity, Privacy and the carried headers for the relayed INVITE."""
    carried = [(CARRIED_HEADERS[name], value) for name, value in inbound.headers if name in CARRIED_HEADERS]
    if withholding_requested(caller, number):
        headers: list[tuple[str, str]] = []
        if number is not None:
            headers.append(("P-Asserted-Identity", f"<tel:{number.e164}>"))
        elif caller.pai_value:
            headers.append(("P-Asserted-Identity", caller.pai_value))
        headers.append(("Privacy", "id"))
        return OutboundIdentity(ANONYMOUS_FROM, (*headers, *carried), True)
    present = number is not None and number.privacy is Privacy.PRESENT
    headers = []
    if caller.pai_value:
        pai = _without_prefix(caller.pai_value, PRESENT_PREFIX) if present else caller.pai_value
        headers.append(("P-Asserted-Identity", pai))
    if caller.privacy:
        headers.append(("Privacy", caller.privacy))
    from_value = None
    if caller.from_value:
        from_value = name_addr(caller.from_value)
        if present:
            from_value = _without_prefix(from_value, PRESENT_PREFIX)
    return OutboundIdentity(from_value, (*headers, *carried), False)


def _dial_prefix(uri: str) -> str | None:
    """184 or 186 when the user part of ``uri`` starts with it before a national number (``1840…``)."""
    user = uri_user(uri)
    for prefix in (WITHHOLD_PREFIX, PRESENT_PREFIX):
        if user.startswith(prefix) and user[len(prefix) :].lstrip("-")[:1] == "0":
            return prefix
    return None


def _without_prefix(value: str, prefix: str) -> str:
    """``value`` (a name-addr) with dial prefix ``prefix`` taken off its URI's user part, if it has it."""
    uri = uri_of(value)
    if _dial_prefix(uri) != prefix:
        return value
    scheme, rest = uri.split(":", 1)
    stripped = f"{scheme}:{rest[len(prefix) :].lstrip('-')}"
    return value.replace(uri, stripped, 1)

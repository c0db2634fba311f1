"""The UDP front: the agent's public SIP port, in front of pjsip.

Why: pjsip must never see a burst (DOMAIN.md: ~100 rejected INVITEs a second
aborted it) nor more calls than it has slots, and the agent must never relay
for strangers. The front is a few lines of asyncio on the public port that,
for each datagram:

- drops anything that is not SIP, answers requests from untrusted addresses
  with ``403`` (nothing reaches pjsip, nothing is relayed);
- refuses a request that breaks RFC 3261's syntax (`sipcheck.sip.strict`: 400/416/505 with a
  ``Warning`` saying what is wrong), so nothing malformed is answered 200 or relayed;
- answers out-of-dialog ``OPTIONS`` itself (``200``, with load figures) so a
  dispatcher can ping the agent without costing pjsip anything;
- asks `Admission` about each new INVITE and answers ``503`` + ``Retry-After``
  itself when the slots are full or the rate is exceeded;
- forwards everything else to pjsip's private loopback port, adding
  ``X-Sipcheck-Ingress: ip:port`` (the real source, which pjsip would otherwise
  see as the front) after removing any copy a peer sent;
- relays pjsip's responses that come back to the front (callers using
  ``rport``) to the address the request came from, by Via branch.

pjsip answers in-dialog requests on its own port (its Contact), which is
fine: they belong to calls already admitted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from sipcheck.sip.admission import Admission, Offer
from sipcheck.sip.sipmsg import (
    SipMessage,
    SipParseError,
    add_header,
    build_response,
    parse_message,
    strip_header,
)
from sipcheck.sip.strict import request_problem

log = logging.getLogger(__name__)

INGRESS_HEADER = "X-Sipcheck-Ingress"
BRANCH_TTL = 40.0  # seconds a Via branch -> source mapping is kept (> 64*T1)

Address = tuple[str, int]


class PeerFilter:
    """The allow-list: IP addresses and networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``)."""

    def __init__(self, peers: Iterable[str]) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for peer in peers:
            text = peer.strip()
            host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text  # drop a :port
            try:
                self.networks.append(ipaddress.ip_network(host.strip("[]"), strict=False))
            except ValueError as exc:
                raise ValueError(f"sip.trusted_peers: {peer!r} is not an IP address or network") from exc

    def allows(self, host: str) -> bool:
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(addr in net for net in self.networks)


@dataclass(slots=True)
class FrontStats:
    forwarded: int = 0
    to_caller: int = 0
    untrusted: int = 0
    not_sip: int = 0
    options: int = 0
    shed_full: int = 0
    shed_rate: int = 0
    malformed: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class SipFront(asyncio.DatagramProtocol):
    """See the module docstring. ``status`` returns extra ``(header, value)`` pairs for OPTIONS."""

    def __init__(
        self,
        backend: Address,
        peers: PeerFilter,
        admission: Admission,
        *,
        retry_after: int = 1,
        status: Callable[[], list[tuple[str, str]]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        strict_syntax: bool = True,
    ) -> None:
        self.strict_syntax = strict_syntax
        self.backend = backend
        self.peers = peers
        self.admission = admission
        self.retry_after = retry_after
        self.status = status
        self.clock = clock
        self.stats = FrontStats()
        self.transport: asyncio.DatagramTransport | None = None
        self._branches: dict[str, tuple[Address, float]] = {}
        self._last_prune = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        source: Address = (str(addr[0]), int(addr[1]))
        now = self.clock()
        if now - self._last_prune > 5.0:
            self._prune(now)
        if data.strip() == b"":
            return  # keep-alive CRLF
        try:
            msg = parse_message(data)
        except SipParseError:
            self.stats.not_sip += 1
            return
        if source == self.backend:
            self._from_backend(data, msg)
        elif msg.is_request:
            self._from_peer(data, msg, source, now)
        # A response from outside to the front has no transaction here: drop it.

    def _send(self, data: bytes, addr: Address) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    def _from_backend(self, data: bytes, msg: SipMessage) -> None:
        branch = msg.via_branch
        entry = self._branches.get(branch or "")
        if entry is None:
            return
        self.stats.to_caller += 1
        self._send(data, entry[0])

    def _from_peer(self, data: bytes, msg: SipMessage, source: Address, now: float) -> None:
        method = msg.method
        if not self.peers.allows(source[0]):
            self.stats.untrusted += 1
            if method != "ACK":
                self._send(build_response(msg, 403, "Forbidden"), source)
            return
        if self.strict_syntax:
            problem = request_problem(data, msg, datagram=True)
            if problem is not None:
                self.stats.malformed += 1
                if method != "ACK":  # an ACK is never answered (RFC 3261 17.2.1)
                    self._send(
                        build_response(msg, problem.code, problem.reason, (problem.warning(),)), source
                    )
                return
        out_of_dialog = msg.to_tag is None
        if method == "OPTIONS" and out_of_dialog:
            self.stats.options += 1
            extra = tuple(self.status()) if self.status else ()
            self._send(
                build_response(msg, 200, "OK", (("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"), *extra)),
                source,
            )
            return
        if method == "INVITE" and out_of_dialog:
            offer = self.admission.offer(msg.call_id, now)
            if offer in (Offer.FULL, Offer.RATE):
                if offer is Offer.FULL:
                    self.stats.shed_full += 1
                else:
                    self.stats.shed_rate += 1
                reason = "Service Unavailable"
                extra = (
                    ("Retry-After", str(self.retry_after)),
                    ("Reason", f'SIP;cause=503;text="{offer.value}"'),
                )
                self._send(build_response(msg, 503, reason, extra), source)
                return
        if msg.via_branch:
            self._branches[msg.via_branch] = (source, now + BRANCH_TTL)
        payload = strip_header(data, INGRESS_HEADER)
        if method == "INVITE":
            payload = add_header(payload, INGRESS_HEADER, f"{source[0]}:{source[1]}")
        self.stats.forwarded += 1
        self._send(payload, self.backend)

    def _prune(self, now: float) -> None:
        self._last_prune = now
        for branch in [b for b, (_, expiry) in self._branches.items() if expiry <= now]:
            del self._branches[branch]

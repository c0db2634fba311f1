"""The B2BUA: screen a forwarded call, relay it, play the identification tone, bridge.

Everything here runs on the pjsua2 thread (`PjRuntime`). Screening does not:
`RelayAgent` hands the caller to ``screen`` (which returns a concurrent
future, resolved on the asyncio side within the Redis budget) and continues
the call when the verdict comes back through `PjRuntime.submit`. The verdict
itself is decided by `sipcheck.policy`, never here: the relay only applies
``Verdict.sip`` (reject with its code and headers, or continue with its
headers).

One relayed call is a `RelaySession` with two `Leg`\\ s (inbound from the
trusted peer, outbound to the next hop). Its life:

1. INVITE in → trusted-peer check → caller (PAI if trusted, else From) → screening
2. blocked → the policy's code (608 + Reason by default); else INVITE out to
   ``next_hop`` with the verdict headers and the caller's From, PAI and Privacy as
   `sipcheck.sip.privacy` decides them (a 184 / ``Privacy: id`` caller goes out anonymous, with
   ``Privacy: id``, the number in PAI only, and ``X-Sipcheck-Privacy: withheld``); Diversion and
   History-Info are carried
3. 180/183 → 180 back; busy/no answer/failure → that code back; CANCEL in → CANCEL out
4. 200 from the callee → 200 to the caller; each leg hears the tone from its own
   player as soon as its media is up; when a leg's tone has played, the other
   party's audio is connected to it (the bridge)
5. BYE from either side → BYE to the other; when both legs are gone the
   session's objects leave the registry and its admission slot is released
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pjsua2 as pj

from sipcheck.sip.front import INGRESS_HEADER, PeerFilter
from sipcheck.sip.privacy import outbound_identity
from sipcheck.sip.runtime import PjRuntime
from sipcheck.sip.sipmsg import CallerId, SipMessage, caller_identity, parse_message, uri_user
from sipcheck.sip.strict import request_problem
from sipcheck.sip.tone import ToneFile
from sipcheck.verdict import Verdict

log = logging.getLogger(__name__)

ScreenFn = Callable[[CallerId, "str | None", "str | None"], "Future[Verdict]"]
"""(caller, sending peer, Call-ID) → the verdict, later: `agent.ScreeningBridge`."""
Notify = Callable[[str], None]

PASSED_BACK = range(400, 700)
"""Final failure codes from the callee that go back to the caller as they are (486, 480, 603...)."""


def _headers(pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> Any:
    vector = pj.SipHeaderVector()
    for name, value in pairs:
        h = pj.SipHeader()
        h.hName = name
        h.hValue = value
        vector.append(h)
    return vector


def next_hop_uri(next_hop: str, called_user: str) -> str:
    """The outbound Request-URI: the called user at the next hop (``sip:host:port[;params]``)."""
    hop = next_hop if next_hop.lower().startswith(("sip:", "sips:")) else f"sip:{next_hop}"
    scheme, rest = hop.split(":", 1)
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}:{called_user}@{rest}" if called_user else f"{scheme}:{rest}"


@dataclass(slots=True)
class RelayStats:
    incoming: int = 0
    untrusted: int = 0
    rejected_verdict: int = 0
    rejected_capacity: int = 0
    relayed: int = 0
    withheld: int = 0
    """Calls relayed with the caller's number withheld (184, Privacy: id): see `sipcheck.sip.privacy`."""
    answered: int = 0
    completed: int = 0
    tone_starts_ms: list[float] = field(default_factory=list)
    """Delay from the callee leg's CONFIRMED to its tone player being connected (last 1000)."""


class Leg(pj.Call):  # type: ignore[misc]
    """One call leg; forwards pjsua2's callbacks to its session.

    A leg removes itself from the registry inside its own DISCONNECTED
    callback, so the Python object (and its C++ Call) dies right there, as
    pjsua2 intends. Deleting it later is a real bug: pjsua2 reuses the call
    slot for the next INVITE, and the stale Call's destructor would detach
    and hang up the *new* call.
    """

    def __init__(self, agent: RelayAgent, role: str, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        pj.Call.__init__(self, agent.account, call_id)
        self.agent = agent
        self.role = role
        self.session: RelaySession | None = None
        self.media_up = False
        self.confirmed = False  # the dialog is CONFIRMED: for the caller's leg, its ACK has arrived

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        state = int(info.state)
        session = self.session
        if state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.session = None
            if session is not None:
                session.leg_gone(self.role, int(info.lastStatusCode), str(info.lastReason))
            self.agent.runtime.registry.drop_call(self)
            return
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True
        if session is not None:
            session.on_state(self, state, int(info.lastStatusCode))

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        for m in info.media:
            if m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.media_up = True
        if self.session is not None and self.media_up:
            self.session.on_media(self)

    def audio(self) -> Any:
        return self.getAudioMedia(-1)


def _other(role: str) -> str:
    return "out" if role == "in" else "in"


class RelaySession:
    """One relayed call (see the module docstring). ``legs`` holds the live legs only."""

    def __init__(self, agent: RelayAgent, inbound: Leg, msg: SipMessage, caller: CallerId) -> None:
        self.agent = agent
        self.legs: dict[str, Leg] = {"in": inbound}
        self.gone: dict[str, tuple[int, str]] = {}
        self.msg = msg
        self.caller = caller
        self.call_id = msg.call_id
        self.verdict: Verdict | None = None
        self.screening = False
        self.ringing_sent = False
        self.answered = False
        self.answered_at = 0.0
        self.finished = False
        self.players: dict[str, Any] = {}
        self.tone_done: set[str] = set()
        inbound.session = self

    # ----- screening ------------------------------------------------------------------------------
    def on_verdict(self, future: Future[Verdict]) -> None:
        self.screening = False
        if "in" not in self.legs:  # cancelled while we screened
            self._maybe_finish()
            return
        try:
            verdict = future.result()
        except Exception:
            log.exception("screening failed for %s", self.call_id)
            self._reject(500, "Server Internal Error", ())
            return
        self.verdict = verdict
        mapping = verdict.sip
        if mapping.reject:
            self.agent.stats.rejected_verdict += 1
            self._reject(mapping.code or 608, mapping.reason_phrase or "Rejected", mapping.headers)
            return
        self._place_outbound(verdict)

    def _reject(self, code: int, reason: str, headers: tuple[tuple[str, str], ...]) -> None:
        inbound = self.legs.get("in")
        if inbound is None:
            return
        prm = pj.CallOpParam()
        prm.statusCode = code
        prm.reason = reason
        prm.txOption.headers = _headers(headers)
        try:
            inbound.hangup(prm)
        except pj.Error as exc:
            log.warning("could not reject %s: %s", self.call_id, exc.info())

    def _place_outbound(self, verdict: Verdict) -> None:
        """INVITE the next hop: verdict headers, then who the caller is (`outbound_identity`)."""
        agent = self.agent
        target = next_hop_uri(agent.next_hop, uri_user(self.msg.request_uri))
        identity = outbound_identity(self.caller, verdict.number, self.msg)
        headers = list(verdict.sip.headers)
        if identity.withheld:
            headers.append((verdict.sip.header_name("Privacy"), "withheld"))
            agent.stats.withheld += 1
        headers += identity.headers
        out = Leg(agent, "out")
        out.session = self
        prm = pj.CallOpParam(True)
        prm.opt.audioCount = 1
        prm.opt.videoCount = 0
        if identity.from_value:
            prm.txOption.localUri = identity.from_value
        prm.txOption.headers = _headers(headers)
        try:
            out.makeCall(target, prm)
        except pj.Error as exc:
            log.warning("outbound call to %s failed: %s", target, exc.info())
            out.session = None  # never started: no slot, safe to let go here
            self._reject(503, "Service Unavailable", self.agent.retry_after)
            return
        agent.runtime.registry.add_call(out)
        self.legs["out"] = out
        agent.stats.relayed += 1

    # ----- call progress --------------------------------------------------------------------------
    def on_state(self, leg: Leg, state: int, code: int) -> None:
        if "in" not in self.legs:
            return
        if leg.role == "in":
            if state == pj.PJSIP_INV_STATE_CONFIRMED and self.answered:
                self._maybe_start_tone(leg)  # the caller's ACK: its media is surely up now
            return
        if state == pj.PJSIP_INV_STATE_EARLY and not self.ringing_sent and code in (180, 183):
            self.ringing_sent = True
            self._answer_inbound(180)
        elif state == pj.PJSIP_INV_STATE_CONFIRMED and not self.answered:
            self.answered = True
            self.answered_at = time.monotonic()
            self.agent.stats.answered += 1
            self._answer_inbound(200)
            self._maybe_start_tone(leg)

    def _answer_inbound(self, code: int) -> None:
        inbound = self.legs.get("in")
        if inbound is None:
            return
        prm = pj.CallOpParam()
        prm.statusCode = code
        try:
            inbound.answer(prm)
        except pj.Error as exc:
            log.warning("could not answer %s with %d: %s", self.call_id, code, exc.info())

    def on_media(self, leg: Leg) -> None:
        if self.answered:
            self._maybe_start_tone(leg)

    def _maybe_start_tone(self, leg: Leg) -> None:
        """Play the tone to ``leg`` once its media is up after answer, then bridge toward it.

        The caller hears it only once its ACK is in: our media is up as soon as we send the 200 OK,
        but the caller builds its stream only when the 200 reaches it, and RTP that arrives before
        that is dropped. Playing at once lost the first 20-40 ms of the tone now and then, which a
        recording-exact (reference) profile fails on.
        """
        role = leg.role
        if (
            not leg.media_up
            or (role == "in" and not leg.confirmed)
            or role in self.players
            or role in self.tone_done
            or self.legs.get(role) is not leg
        ):
            return
        tone = self.agent.tone
        if tone is None:
            self._tone_finished(role)
            return
        player = pj.AudioMediaPlayer()
        self.agent.runtime.registry.add_media(player)
        self.players[role] = player
        try:
            player.createPlayer(str(tone.path), pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(leg.audio())
        except pj.Error as exc:
            log.warning("tone player failed on %s: %s", self.call_id, exc.info())
            self._tone_finished(role)
            return
        if role == "out":
            starts = self.agent.stats.tone_starts_ms
            starts.append((time.monotonic() - self.answered_at) * 1000.0)
            del starts[:-1000]
        self.agent.runtime.call_later(tone.duration_ms / 1000.0, lambda: self._tone_finished(role))

    def _tone_finished(self, role: str) -> None:
        """The tone has played to leg ``role``: release its player and connect the other party to it."""
        self.tone_done.add(role)
        self._drop_player(role)
        listener, talker = self.legs.get(role), self.legs.get(_other(role))
        if self.finished or listener is None or talker is None or not (listener.media_up and talker.media_up):
            return
        try:
            talker.audio().startTransmit(listener.audio())
        except pj.Error as exc:
            log.warning("bridge failed on %s: %s", self.call_id, exc.info())

    def _drop_player(self, role: str) -> None:
        player = self.players.pop(role, None)
        if player is not None:
            self.agent.runtime.registry.drop_media(player)  # last reference: destroyed now, on this thread

    # ----- teardown -------------------------------------------------------------------------------
    def leg_gone(self, role: str, code: int, reason: str) -> None:
        """Leg ``role`` is DISCONNECTED (its Call object is about to be deleted): end the other one."""
        self.legs.pop(role, None)
        self.gone[role] = (code, reason)
        self._drop_player(role)
        other = self.legs.get(_other(role))
        if other is not None:
            prm = pj.CallOpParam()
            if other.role == "in" and not self.answered:
                prm.statusCode = code if code in PASSED_BACK else 480
                prm.reason = reason or "Temporarily Unavailable"
            try:
                other.hangup(prm)
            except pj.Error as exc:
                log.warning("hangup of the %s leg of %s failed: %s", other.role, self.call_id, exc.info())
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self.finished or self.screening or self.legs:
            return
        self.finished = True
        for role in list(self.players):
            self._drop_player(role)
        self.agent.session_finished(self)


class Account(pj.Account):  # type: ignore[misc]
    def __init__(self, agent: RelayAgent) -> None:
        pj.Account.__init__(self)
        self.agent = agent

    def onIncomingCall(self, prm: Any) -> None:
        self.agent.on_incoming(prm)


class RelayAgent:
    """The relay's state on the pjsua2 thread: account, sessions, counters.

    ``admitted``/``released`` tell the UDP front which Call-IDs hold a slot
    (thread-safe callables); ``front`` is the front's address, whose
    ``X-Sipcheck-Ingress`` header is believed and nobody else's.
    """

    def __init__(
        self,
        runtime: PjRuntime,
        *,
        next_hop: str,
        peers: PeerFilter,
        screen: ScreenFn,
        tone: ToneFile | None,
        max_calls: int,
        front: str | None,
        admitted: Notify | None = None,
        released: Notify | None = None,
        contact_host: str = "127.0.0.1",
        retry_after_s: int = 1,
        strict_syntax: bool = True,
    ) -> None:
        self.strict_syntax = strict_syntax
        self.runtime = runtime
        self.next_hop = next_hop
        self.peers = peers
        self.screen = screen
        self.tone = tone
        self.max_calls = max_calls
        self.front = front
        self.admitted = admitted
        self.released = released
        self.contact_host = contact_host
        self.retry_after = (("Retry-After", str(retry_after_s)),)
        self.sessions: dict[int, RelaySession] = {}
        self.peak_sessions = 0
        self.stats = RelayStats()
        self.account: Any = None

    def setup(self, runtime: PjRuntime) -> None:
        """Create the account (pjsua2 thread, after libStart)."""
        cfg = pj.AccountConfig()
        port = runtime.udp_port or runtime.tcp_port
        cfg.idUri = f"sip:sipcheck@{self.contact_host}:{port}"
        cfg.mediaConfig.transportConfig.port = runtime.config.rtp_port
        cfg.mediaConfig.transportConfig.portRange = runtime.config.rtp_port_range
        cfg.mediaConfig.transportConfig.boundAddress = runtime.config.bind_host
        cfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
        acc = Account(self)
        acc.create(cfg, True)
        self.account = acc
        runtime.registry.account = acc

    def on_incoming(self, prm: Any) -> None:
        self.stats.incoming += 1
        leg = Leg(self, "in", prm.callId)
        self.runtime.registry.add_call(leg)
        try:
            self._admit(leg, prm)
        except Exception:  # a bug here must cost one call a 500, not leave it hanging
            log.exception("incoming call failed")
            session = leg.session
            if session is not None:
                self.sessions.pop(id(session), None)
                if self.released is not None:
                    self.released(session.call_id)
            self._refuse(leg, 500, "Server Internal Error")

    def _admit(self, leg: Leg, prm: Any) -> None:
        whole = str(prm.rdata.wholeMsg)
        try:
            msg = parse_message(whole)
        except ValueError:
            self._refuse(leg, 400, "Bad Request")
            return
        if self.strict_syntax:  # what the UDP front refuses, refused over TCP too (pjsip frames TCP itself)
            problem = request_problem(whole.encode("utf-8", "surrogateescape"), msg, datagram=False)
            if problem is not None:
                self._refuse(leg, problem.code, problem.reason, (problem.warning(),))
                return
        src = str(prm.rdata.srcAddress)
        via_front = self.front is not None and src == self.front
        ingress_value = msg.get(INGRESS_HEADER.lower()) if via_front else None
        peer = ingress_value or src
        peer_host = peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer
        if not self.peers.allows(peer_host):
            self.stats.untrusted += 1
            self._refuse(leg, 403, "Forbidden")
            return
        if len(self.sessions) >= self.max_calls:
            self.stats.rejected_capacity += 1
            self._refuse(leg, 503, "Service Unavailable", self.retry_after)
            return
        caller = caller_identity(msg, trusted=True)
        session = RelaySession(self, leg, msg, caller)
        self.sessions[id(session)] = session
        self.peak_sessions = max(self.peak_sessions, len(self.sessions))
        if self.admitted is not None:
            self.admitted(session.call_id)
        session.screening = True
        # The sending peer as it is: the Screener resolves it (sipcheck.ingress), as every edge does.
        future = self.screen(caller, peer, session.call_id)
        future.add_done_callback(lambda f: self.runtime.submit(lambda: session.on_verdict(f)))

    def _refuse(self, leg: Leg, code: int, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        """Answer an INVITE that gets no session; the leg leaves the registry when pjsua2 is done.

        The answer goes out on the next turn of the pjsua2 thread, not inside ``onIncomingCall``:
        hanging up an incoming call from within that callback, over TCP, aborted the process on the
        next one (pjsip_rx_data_free_cloned: Assertion `rdata' failed), so an untrusted peer, a
        malformed INVITE or a full agent took the agent down (tests/sip/test_sip_rfc4475.py).
        """
        leg.session = None
        prm = pj.CallOpParam()
        prm.statusCode = code
        prm.reason = reason
        prm.txOption.headers = _headers(headers)

        def hang_up() -> None:
            try:
                leg.hangup(prm)
            except pj.Error as exc:
                log.warning("could not refuse a call with %d: %s", code, exc.info())

        self.runtime.call_later(0.0, hang_up)

    def session_finished(self, session: RelaySession) -> None:
        self.sessions.pop(id(session), None)
        self.stats.completed += 1
        if self.released is not None:
            self.released(session.call_id)

    def teardown(self, runtime: PjRuntime) -> None:
        for session in list(self.sessions.values()):
            for role in list(session.players):
                session._drop_player(role)

    def status(self) -> dict[str, Any]:
        starts = sorted(self.stats.tone_starts_ms)
        return {
            "sessions": len(self.sessions),
            "max_sessions": self.peak_sessions,
            "incoming": self.stats.incoming,
            "relayed": self.stats.relayed,
            "withheld": self.stats.withheld,
            "answered": self.stats.answered,
            "completed": self.stats.completed,
            "rejected_verdict": self.stats.rejected_verdict,
            "rejected_capacity": self.stats.rejected_capacity,
            "untrusted": self.stats.untrusted,
            "tone_start_p50_ms": starts[len(starts) // 2] if starts else None,
        }

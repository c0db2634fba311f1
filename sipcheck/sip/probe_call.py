"""The probe: place test calls, record what is heard from answer on, validate the tone.

For testers checking that a forwarding service really plays the
identification tone. Each call: INVITE to the target, on answer (once the
media is up) record the received audio to a WAV for a fixed time, hang up,
and validate the WAV with `sipcheck.tones` taking the recording's start as
the call start. The library runs in its own `PjRuntime` thread; this module's
caller just waits for the outcomes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pjsua2 as pj

from sipcheck import tones
from sipcheck.sip.runtime import PjRuntime, RuntimeConfig


@dataclass
class ProbeOutcome:
    """One probe call: how SIP went, where the recording is, and the tone's validation."""

    index: int
    target: str
    status_code: int = 0
    reason: str = ""
    answered: bool = False
    recording: Path | None = None
    validation: tones.ValidationResult | None = None
    error: str | None = None
    setup_ms: float | None = None

    @property
    def passed(self) -> bool:
        return self.validation is not None and self.validation.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "target": self.target,
            "status_code": self.status_code,
            "reason": self.reason,
            "answered": self.answered,
            "setup_ms": self.setup_ms,
            "recording": str(self.recording) if self.recording else None,
            "passed": self.passed,
            "error": self.error,
            "validation": self.validation.to_dict() if self.validation else None,
        }


class _ProbeCall(pj.Call):  # type: ignore[misc]
    def __init__(self, probe: _Prober, outcome: ProbeOutcome, wav: Path, record_s: float) -> None:
        pj.Call.__init__(self, probe.account)
        self.probe = probe
        self.outcome = outcome
        self.wav = wav
        self.record_s = record_s
        self.confirmed = False
        self.recorder: Any = None
        self.started = time.monotonic()
        self.done = threading.Event()

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        state = int(info.state)
        self.outcome.status_code = int(info.lastStatusCode)
        self.outcome.reason = str(info.lastReason)
        if state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            self.outcome.answered = True
            self.outcome.setup_ms = (time.monotonic() - self.started) * 1000.0
            self._maybe_record(info)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self._stop_recorder()
            self.probe.runtime.registry.drop_call(self)  # delete in the DISCONNECTED callback
            self.done.set()

    def onCallMediaState(self, prm: Any) -> None:
        if self.confirmed:
            self._maybe_record(self.getInfo())

    def _maybe_record(self, info: Any) -> None:
        if self.recorder is not None:
            return
        active = any(
            m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE for m in info.media
        )
        if not active:
            return
        recorder = pj.AudioMediaRecorder()
        self.probe.runtime.registry.add_media(recorder)
        self.recorder = recorder
        recorder.createRecorder(str(self.wav))
        self.getAudioMedia(-1).startTransmit(recorder)
        self.outcome.recording = self.wav
        self.probe.runtime.call_later(self.record_s, self._hangup)

    def end(self) -> None:
        """Hang up now (pjsua2 thread), whatever the state."""
        self._hangup()

    def _hangup(self) -> None:
        self._stop_recorder()  # closes the WAV before the BYE, so its length is exactly record_s
        if not self.done.is_set():
            with contextlib.suppress(pj.Error):
                self.hangup(pj.CallOpParam())

    def _stop_recorder(self) -> None:
        if self.recorder is not None:
            self.probe.runtime.registry.drop_media(self.recorder)
            self.recorder = None


@dataclass
class _Prober:
    runtime: PjRuntime
    account: Any = None
    calls: list[_ProbeCall] = field(default_factory=list)

    def setup(self, runtime: PjRuntime) -> None:
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:probe@{runtime.config.bind_host}:{runtime.udp_port}"
        cfg.mediaConfig.transportConfig.boundAddress = runtime.config.bind_host
        cfg.mediaConfig.transportConfig.port = runtime.config.rtp_port
        cfg.mediaConfig.transportConfig.portRange = runtime.config.rtp_port_range
        cfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
        acc = pj.Account()
        acc.create(cfg, True)
        self.account = acc
        runtime.registry.account = acc


def _place_call(
    prober: _Prober,
    outcome: ProbeOutcome,
    wav: Path,
    record_s: float,
    target: str,
    caller: str | None,
    headers: tuple[tuple[str, str], ...],
) -> _ProbeCall | None:
    """INVITE ``target`` (pjsua2 thread). None when the call could not even be placed."""
    call = _ProbeCall(prober, outcome, wav, record_s)
    prm = pj.CallOpParam(True)
    prm.opt.audioCount = 1
    prm.opt.videoCount = 0
    if caller:
        prm.txOption.localUri = caller
    vector = pj.SipHeaderVector()
    for name, value in headers:
        h = pj.SipHeader()
        h.hName, h.hValue = name, value
        vector.append(h)
    prm.txOption.headers = vector
    try:
        call.makeCall(target, prm)
    except pj.Error as exc:
        outcome.error = f"cannot place the call: {exc.info()}"
        return None
    prober.runtime.registry.add_call(call)
    return call


def _wait_wav_closed(path: Path, timeout_s: float = 2.0) -> None:
    """Wait until the recorder has written the WAV's final sizes.

    pjmedia removes a conference port asynchronously (on the media clock's
    next tick), so the file is finalised a frame or two after the recorder
    object is gone; until then its RIFF size field is still zero.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(path, "rb") as fh:
                head = fh.read(8)
        except OSError:
            head = b""
        if len(head) == 8 and head[:4] == b"RIFF" and int.from_bytes(head[4:8], "little") > 36:
            return
        time.sleep(0.01)


PROBE_RTP_PORTS = 20
"""RTP/RTCP ports the probe may use from ``rtp_port`` on (one call at a time, a few in teardown)."""


def run_probe(
    target: str,
    profile: tones.Profile,
    workdir: Path,
    *,
    count: int = 1,
    interval_s: float = 1.0,
    record_s: float | None = None,
    caller: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    bind_host: str = "127.0.0.1",
    codecs: tuple[str, ...] = ("PCMU/8000", "PCMA/8000"),
    call_timeout_s: float = 30.0,
    on_outcome: Callable[[ProbeOutcome], None] | None = None,
    sip_port: int = 0,
    rtp_port: int = 0,
) -> list[ProbeOutcome]:
    """Place ``count`` calls to ``target`` one after another and validate each against ``profile``."""
    if record_s is None:
        tolerance = profile.tolerances.max_start_delay_ms or 1000.0
        length = profile.total_ms() if isinstance(profile, tones.ParametricProfile) else 5000.0
        record_s = (length + tolerance) / 1000.0 + 0.5
    workdir.mkdir(parents=True, exist_ok=True)
    prober_box: list[_Prober] = []
    runtime = PjRuntime(
        RuntimeConfig(
            bind_host=bind_host,
            udp_port=sip_port,  # 0: a free port
            codecs=codecs,
            rtp_port=rtp_port,  # 0: pjsip's default range
            rtp_port_range=PROBE_RTP_PORTS if rtp_port else 0,
            log_level=0,
            own_gc=True,
        ),
        setup=lambda rt: prober_box[0].setup(rt),
    )
    prober = _Prober(runtime)
    prober_box.append(prober)
    runtime.start()
    outcomes: list[ProbeOutcome] = []
    try:
        for index in range(count):
            if index:
                time.sleep(interval_s)
            outcome = ProbeOutcome(index, target)
            wav = workdir / f"probe-{index:04d}.wav"
            wav.unlink(missing_ok=True)
            call = runtime.call(
                lambda outcome=outcome, wav=wav: _place_call(  # type: ignore[misc]
                    prober, outcome, wav, record_s or 0.0, target, caller, headers
                )
            )
            if call is not None and not call.done.wait(call_timeout_s + record_s):
                outcome.error = "the call did not end in time"
                runtime.submit(call.end)
                call.done.wait(5)
            call = None
            if outcome.answered and outcome.recording is not None and outcome.recording.exists():
                _wait_wav_closed(outcome.recording)
                try:
                    outcome.validation = tones.validate_file(outcome.recording, profile, offset_ms=0.0)
                except (tones.AudioFormatError, ValueError) as exc:
                    outcome.error = f"cannot validate {outcome.recording}: {exc}"
            elif outcome.error is None:
                outcome.error = (
                    f"not answered: {outcome.status_code} {outcome.reason}".strip()
                    if not outcome.answered
                    else "answered but no audio was recorded"
                )
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    finally:
        runtime.stop()
    return outcomes

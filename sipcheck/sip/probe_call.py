"""The probe: place test calls, record what is heard from answer on, validate the tone.

For testers checking that a forwarding service really plays the identification tone. Each call:
INVITE to the target; once its media is up after answer, record the received audio to a WAV for a
fixed time, hang up, and validate the WAV with `sipcheck.tones` taking the recording's start as
the call start. Calls run ``concurrency`` at a time, paced by `probe_plan.Pacer`.

With ``answer_calls`` the probe is also the called party: the target forwards to the probe's own
SIP port (its next hop), the probe answers, records what the *callee* hears and validates that too,
so one run proves the tone reached both parties. A forwarded call is paired with the call placed by
the display name the probe puts in its From (`probe_plan.probe_display_name`).

The library runs in its own `PjRuntime` thread; `run_shard` waits for the outcomes on the caller's,
and `sipcheck.sip.probe_run` spreads a run over processes.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pjsua2 as pj

from sipcheck import tones
from sipcheck.sip.probe_plan import (
    Pacer,
    PartyOutcome,
    ProbeOutcome,
    no_answer_message,
    probe_display_name,
    probe_index,
    record_seconds,
    rtp_ports_needed,
    with_display_name,
)
from sipcheck.sip.runtime import PjRuntime, RuntimeConfig
from sipcheck.sip.sipmsg import parse_message

if TYPE_CHECKING:
    from sipcheck.sip.probe_run import ProbeRun


def _weakly(call: Any, method: str, *args: Any) -> Callable[[], None]:
    """A timer job calling ``call.method(*args)`` that does not keep the call alive.

    A pjsua2 Call must die in its own DISCONNECTED callback (when the registry lets it go): one kept
    alive by a pending timer would be destroyed later, after pjsua2 may have given its slot to a new
    call, whose dialog the stale destructor would then tear down.
    """
    return _weakly_ref(weakref.ref(call), method, *args)


def _weakly_ref(ref: weakref.ref[Any], method: str, *args: Any) -> Callable[[], None]:
    def job() -> None:
        target = ref()
        if target is not None:
            getattr(target, method)(*args)

    return job


def _audio_active(info: Any) -> bool:
    return any(m.type == pj.PJMEDIA_TYPE_AUDIO and m.status == pj.PJSUA_CALL_MEDIA_ACTIVE for m in info.media)


class _Recording:
    """One WAV recorder on a call's audio, stopped after ``seconds`` or when the call ends."""

    def __init__(self, probe: _Prober, wav: Path, seconds: float) -> None:
        self.probe = probe
        self.wav = wav
        self.seconds = seconds
        self.recorder: Any = None
        self.started = False

    def start(self, audio: Any, on_elapsed: Callable[[], None]) -> bool:
        if self.started:
            return False
        self.started = True
        recorder = pj.AudioMediaRecorder()
        self.probe.runtime.registry.add_media(recorder)
        self.recorder = recorder
        recorder.createRecorder(str(self.wav))
        audio.startTransmit(recorder)
        self.probe.runtime.call_later(self.seconds, on_elapsed)
        return True

    def stop(self) -> None:
        if self.recorder is not None:
            self.probe.runtime.registry.drop_media(self.recorder)
            self.recorder = None


class _ProbeCall(pj.Call):  # type: ignore[misc]
    """A call the probe places: records from answer on, hangs up after the recording."""

    def __init__(self, probe: _Prober, outcome: ProbeOutcome, wav: Path, record_s: float) -> None:
        pj.Call.__init__(self, probe.account)
        self.probe = probe
        self.outcome = outcome
        self.recording = _Recording(probe, wav, record_s)
        self.confirmed = False
        self.started = time.monotonic()
        outcome.placed_at = time.time()
        self.done = threading.Event()
        self.timed_out = False

    def onCallTsxState(self, prm: Any) -> None:
        self._note_response(prm.e)

    def _note_response(self, event: Any) -> None:
        """Keep the status line of a response that came from the network: a 503 the target sent is a
        shed call; one pjsip made up (transport error, timeout) is not."""
        if event.type != pj.PJSIP_EVENT_TSX_STATE or event.body.tsxState.type != pj.PJSIP_EVENT_RX_MSG:
            return
        whole = str(event.body.tsxState.src.rdata.wholeMsg)
        if whole.startswith("SIP/2.0 "):
            line = whole.split("\r\n", 1)[0][len("SIP/2.0 ") :].strip()
            self.outcome.last_response = line

    def onCallState(self, prm: Any) -> None:
        self._note_response(prm.e)
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
            self.recording.stop()
            self.outcome.ended_at = time.time()
            self.probe.runtime.registry.drop_call(self)  # delete in the DISCONNECTED callback
            self.done.set()

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        if self.outcome.codec is None and _audio_active(info):
            with contextlib.suppress(pj.Error):
                self.outcome.codec = str(self.getStreamInfo(0).codecName)
        if self.confirmed:
            self._maybe_record(info)

    def _maybe_record(self, info: Any) -> None:
        if _audio_active(info) and self.recording.start(self.getAudioMedia(-1), _weakly(self, "_hangup")):
            self.outcome.recording = self.recording.wav

    def answer_deadline(self, timeout_s: float) -> None:
        """No answer within ``timeout_s`` of the INVITE: say so and give up (CANCEL)."""
        if self.confirmed or self.done.is_set():
            return
        self.timed_out = True
        self.outcome.error = no_answer_message(self.outcome.target, timeout_s, self.outcome.last_response)
        self._hangup()

    def end(self) -> None:
        """Hang up now (pjsua2 thread), whatever the state."""
        self._hangup()

    def _hangup(self) -> None:
        self.recording.stop()  # closes the WAV before the BYE, so its length is exactly record_s
        if not self.done.is_set():
            with contextlib.suppress(pj.Error):
                self.hangup(pj.CallOpParam())


class _AnsweredCall(pj.Call):  # type: ignore[misc]
    """A forwarded call the probe answers as the called party, recording what it hears."""

    def __init__(self, probe: _Prober, call_id: int, party: PartyOutcome, wav: Path, record_s: float) -> None:
        pj.Call.__init__(self, probe.account, call_id)
        self.probe = probe
        self.party = party
        self.recording = _Recording(probe, wav, record_s)
        self.done = threading.Event()

    def onCallState(self, prm: Any) -> None:
        if int(self.getInfo().state) == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.recording.stop()
            self.probe.runtime.registry.drop_call(self)
            self.done.set()

    def onCallMediaState(self, prm: Any) -> None:
        if _audio_active(self.getInfo()) and self.recording.start(
            self.getAudioMedia(-1), self.recording.stop
        ):
            self.party.recording = self.recording.wav


class _ProbeAccount(pj.Account):  # type: ignore[misc]
    def __init__(self, probe: _Prober) -> None:
        pj.Account.__init__(self)
        self.probe = probe

    def onIncomingCall(self, prm: Any) -> None:
        self.probe.on_incoming(prm)


@dataclass
class _Prober:
    runtime: PjRuntime
    workdir: Path
    record_s: float
    run: str
    answer_calls: bool
    account: Any = None
    answered: dict[int, tuple[PartyOutcome, threading.Event]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def setup(self, runtime: PjRuntime) -> None:
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:probe@{runtime.config.bind_host}:{runtime.udp_port}"
        cfg.mediaConfig.transportConfig.boundAddress = runtime.config.bind_host
        cfg.mediaConfig.transportConfig.port = runtime.config.rtp_port
        cfg.mediaConfig.transportConfig.portRange = runtime.config.rtp_port_range
        cfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
        acc = _ProbeAccount(self)
        acc.create(cfg, True)
        self.account = acc
        runtime.registry.account = acc

    def on_incoming(self, prm: Any) -> None:
        """A forwarded call: answer it when it is one of this run's calls, refuse it otherwise."""
        try:
            from_value = parse_message(str(prm.rdata.wholeMsg)).get("from") or ""
        except ValueError:
            from_value = ""
        index = probe_index(from_value, self.run) if self.answer_calls else None
        party = PartyOutcome()
        call = _AnsweredCall(
            self, prm.callId, party, self.workdir / f"probe-{index or 0:04d}-callee.wav", self.record_s
        )
        self.runtime.registry.add_call(call)
        answer = pj.CallOpParam()
        with self.lock:
            duplicate = index is not None and index in self.answered
            if index is not None and not duplicate:
                self.answered[index] = (party, call.done)
        answer.statusCode = 200 if index is not None and not duplicate else 603
        with contextlib.suppress(pj.Error):
            if answer.statusCode == 200:
                call.answer(answer)
            else:
                call.hangup(answer)

    def callee_of(self, index: int) -> tuple[PartyOutcome, threading.Event] | None:
        with self.lock:
            return self.answered.get(index)


def _place_call(
    prober: _Prober,
    outcome: ProbeOutcome,
    wav: Path,
    target: str,
    caller: str | None,
    headers: tuple[tuple[str, str], ...],
    answer_timeout_s: float,
) -> _Placed | None:
    """INVITE ``target`` (pjsua2 thread). None when the call could not even be placed."""
    call = _ProbeCall(prober, outcome, wav, prober.record_s)
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
    prober.runtime.call_later(answer_timeout_s, _weakly(call, "answer_deadline", answer_timeout_s))
    return _Placed(call.done, call.started, weakref.ref(call))


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


def validate_recording_file(
    path: Path, profile: tones.Profile
) -> tuple[tones.ValidationResult | None, str | None]:
    """Validate one recording (in the validator process): the result, or why it could not be read."""
    try:
        return tones.validate_file(path, profile, offset_ms=0.0), None
    except (tones.AudioFormatError, ValueError) as exc:
        return None, f"cannot validate {path}: {exc}"


class _Validator:
    """Validates the run's recordings once its calls are over, over every core.

    Not while calls are up: a validation beside live media (in this process, where the pjsua2 thread
    reads RTP itself under the GIL, or in another at low priority on a 2-core host) made RTP late now
    and then, and the jitter buffers concealed and then discarded a frame: notes 20 ms short or long,
    which a recording-exact (reference) profile fails on.
    """

    def __init__(self) -> None:
        self.jobs: list[tuple[PartyOutcome | ProbeOutcome, Path]] = []

    def submit(self, party: PartyOutcome | ProbeOutcome) -> bool:
        """Queue ``party``'s recording; False when it has none."""
        path = party.recording
        if path is None or not path.exists():
            return False
        _wait_wav_closed(path)
        self.jobs.append((party, path))
        return True

    def run(self, profile: tones.Profile) -> None:
        """Validate everything queued, filling each party's validation (or error)."""
        jobs, self.jobs = self.jobs, []
        if not jobs:
            return
        workers = min(len(jobs), os.cpu_count() or 1)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(validate_recording_file, path, profile) for _, path in jobs]
            for (party, path), future in zip(jobs, futures, strict=True):
                try:
                    party.validation, error = future.result()
                except Exception as exc:  # a validator process died: say so on this call, go on
                    party.validation, error = None, f"cannot validate {path}: {exc}"
                if error is not None:
                    party.error = error


@dataclass(frozen=True)
class _Placed:
    """What the main thread keeps of a placed call: never the pjsua2 object itself (see `_weakly`)."""

    done: threading.Event
    started: float
    call: weakref.ref[_ProbeCall]


@dataclass
class _Active:
    outcome: ProbeOutcome
    placed: _Placed | None
    ended_at: float | None = None
    finished: bool = False  # the call is over and its recording queued for validation


def _finish(item: _Active, validator: _Validator) -> None:
    """A call whose caller leg has ended: queue its recording, or say why there is none."""
    outcome = item.outcome
    queued = outcome.answered and validator.submit(outcome)
    if not queued and outcome.error is None:
        if (
            not outcome.answered
            and outcome.status_code == 503
            and (outcome.last_response or "").startswith("503")
        ):
            outcome.shed = True
            outcome.error = f"the target answered {outcome.last_response}"
        else:
            outcome.error = (
                f"not answered: {outcome.status_code} {outcome.reason}".strip()
                if not outcome.answered
                else "answered but no audio was recorded"
            )
    item.finished = True


def _start_prober(run: ProbeRun, token: str, *, answer_calls: bool) -> _Prober:
    """The pjsua2 runtime (not started yet) and account of one probe process, caller or called side."""
    record_s = run.record_s if run.record_s is not None else record_seconds(run.profile)
    run.workdir.mkdir(parents=True, exist_ok=True)
    prober_box: list[_Prober] = []
    runtime = PjRuntime(
        RuntimeConfig(
            bind_host=run.bind_host,
            udp_port=run.sip_port,  # 0: a free port
            codecs=run.codecs,
            rtp_port=run.rtp_port,  # 0: pjsip's default range
            rtp_port_range=rtp_ports_needed(run.concurrency, False) if run.rtp_port else 0,
            log_level=0,
            own_gc=True,
        ),
        setup=lambda rt: prober_box[0].setup(rt),
    )
    prober_box.append(_Prober(runtime, run.workdir, record_s, token, answer_calls))
    return prober_box[0]


def run_shard(
    run: ProbeRun,
    indices: list[int],
    delay_s: float,
    on_outcome: Callable[[ProbeOutcome], None] | None,
    token: str | None = None,
) -> list[ProbeOutcome]:
    """Place the calls ``indices`` from this process (at most `PJ_MAX_CALLS` legs at once), starting
    ``delay_s`` from now; see `sipcheck.sip.probe_run.run_probe` for a whole run."""
    pacer = Pacer(run.concurrency, run.rate_cps, run.interval_s)
    prober = _start_prober(run, token or secrets.token_hex(4), answer_calls=False)
    runtime = prober.runtime
    validator = _Validator()
    runtime.start()
    if delay_s:
        time.sleep(delay_s)
    done: dict[int, ProbeOutcome] = {}
    active: list[_Active] = []
    call_limit_s = run.answer_timeout_s + prober.record_s + 5.0
    pending = list(reversed(indices))
    try:
        while pending or active:
            now = time.monotonic()
            for item in list(active):
                placed = item.placed
                if item.ended_at is None:
                    if placed is not None and not placed.done.is_set():
                        if now - placed.started > call_limit_s:
                            item.outcome.error = item.outcome.error or "the call did not end in time"
                            runtime.submit(_weakly_ref(placed.call, "end"))
                            placed.done.wait(5)
                        else:
                            continue
                    item.ended_at = now
                    pacer.on_end(now)
                _finish(item, validator)
                active.remove(item)
                done[item.outcome.index] = item.outcome
            start_at = pacer.next_start(now, len(active)) if pending else None
            if start_at is not None and start_at <= now:
                active.append(_Active(*_start_call(run, prober, runtime, pending.pop(), token is not None)))
                pacer.on_start(now)
                continue
            time.sleep(0.005 if start_at is None else min(0.005, max(0.0, start_at - now)))
    finally:
        runtime.stop()
    validator.run(run.profile)
    outcomes = [done[i] for i in sorted(done)]
    if on_outcome is not None:
        for outcome in outcomes:
            on_outcome(outcome)
    return outcomes


def _start_call(
    run: ProbeRun, prober: _Prober, runtime: PjRuntime, index: int, mark_from: bool
) -> tuple[ProbeOutcome, _Placed | None]:
    outcome = ProbeOutcome(index, run.target)
    wav = run.workdir / f"probe-{index:04d}.wav"
    wav.unlink(missing_ok=True)
    from_uri = run.caller
    if mark_from:
        from_uri = with_display_name(
            run.caller or f"sip:probe@{run.bind_host}", probe_display_name(prober.run, index)
        )
    placed = runtime.call(
        lambda: _place_call(prober, outcome, wav, run.target, from_uri, run.headers, run.answer_timeout_s)
    )
    return outcome, placed


def answer_shard(run: ProbeRun, token: str, queue: Any, stop: Any) -> None:
    """The called party, in a process of its own: answer this run's forwarded calls on ``run.sip_port``,
    record and validate what each hears, and put ``(index, PartyOutcome)`` on ``queue`` ("ready" first,
    None last), until ``stop`` is set.

    Apart from the caller side because one process holding both legs of every call heard them worse:
    notes came out 20 ms short or long in about one call in six (a reference profile fails on that).
    """
    prober = _start_prober(run, token, answer_calls=True)
    runtime = prober.runtime
    validator = _Validator()
    try:
        runtime.start()
        queue.put("ready")
        while not stop.is_set():
            time.sleep(0.02)
        time.sleep(0.2)  # the BYEs of the last calls
    finally:
        runtime.stop()
        with prober.lock:
            answered = list(prober.answered.items())
        for _, (party, _done) in answered:
            if not validator.submit(party) and party.error is None:
                party.error = "answered as the called party but no audio was recorded"
        try:
            validator.run(run.profile)
            for index, (party, _done) in answered:
                queue.put((index, party))
        finally:
            queue.put(None)

"""The probe's pure parts, stepped by hand: pacing, pairing forwarded calls, accounting, record length."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

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
    summarize,
    with_display_name,
)


def test_one_call_at_a_time_waits_the_interval_after_the_previous_call_ended() -> None:
    pacer = Pacer(concurrency=1, interval_s=0.5)
    assert pacer.next_start(10.0, active=0) == 10.0
    pacer.on_start(10.0)
    assert pacer.next_start(11.0, active=1) is None  # the one slot is busy
    pacer.on_end(12.0)
    assert pacer.next_start(12.1, active=0) == 12.5
    assert pacer.next_start(13.0, active=0) == 13.0


def test_a_rate_spaces_starts_from_the_first_and_concurrency_caps_them() -> None:
    pacer = Pacer(concurrency=3, rate_cps=4.0)
    starts = []
    now = 100.0
    active = 0
    while len(starts) < 5:
        at = pacer.next_start(now, active)
        if at is not None and at <= now:
            starts.append(now)
            pacer.on_start(now)
            active += 1
        now = round(now + 0.05, 2)
        if active == 3 and now >= 100.9:  # calls end: slots free
            active = 1
    assert starts[:3] == [100.0, 100.25, 100.5]
    assert starts[3] >= 100.9  # the fourth waited for a slot although its rate slot (100.75) had come
    assert starts[4] == pytest.approx(max(starts[3], 101.0))


def test_pacer_refuses_nonsense() -> None:
    for kwargs in ({"concurrency": 0}, {"rate_cps": 0.0}, {"interval_s": -1.0}):
        with pytest.raises(ValueError):
            Pacer(**kwargs)  # type: ignore[arg-type]


def test_forwarded_calls_pair_by_the_display_name_of_this_run_only() -> None:
    name = probe_display_name("0a1b2c3d", 17)
    from_value = with_display_name("<sip:0352535111@127.0.0.1>", name) + ";tag=abc"
    assert from_value.startswith('"sipcheck-probe-0a1b2c3d-17" <sip:0352535111@127.0.0.1>')
    assert probe_index(from_value, "0a1b2c3d") == 17
    assert probe_index(from_value, "ffffffff") is None  # another run's call is not ours
    assert probe_index("<sip:0352535111@127.0.0.1>;tag=x", "0a1b2c3d") is None
    # a caller given with a display name of its own, or as a bare URI, gets ours instead
    assert with_display_name('"Alice" <sip:a@h>', name) == f'"{name}" <sip:a@h>'
    assert with_display_name("sip:a@h", name) == f'"{name}" <sip:a@h>'


def _validation(passed: bool) -> tones.ValidationResult:
    profile = tones.load_profile("example-call-start")
    samples = tones.render(profile, 8000)
    if not passed:
        samples = samples * 0.0
    result = tones.validate_audio(samples, 8000, profile, call_start_s=0.0)
    assert result.passed is passed
    return result


def test_summary_counts_shed_calls_apart_and_a_callee_failure_fails_the_call() -> None:
    good = _validation(True)
    bad = _validation(False)
    outcomes = [
        ProbeOutcome(0, "t", validation=good, codec="PCMA"),
        ProbeOutcome(1, "t", shed=True, status_code=503, last_response="503 Service Unavailable"),
        ProbeOutcome(2, "t", validation=good, callee=PartyOutcome(validation=bad), codec="PCMA"),
        ProbeOutcome(3, "t", validation=good, callee=PartyOutcome(validation=good), codec="PCMU"),
    ]
    assert [o.passed for o in outcomes] == [True, False, False, True]
    summary = summarize("t", "example-call-start", outcomes, Path("/x"))
    assert (summary["passed"], summary["failed"], summary["shed_503"]) == (2, 1, 1)
    assert (summary["callee_checked"], summary["callee_passed"]) == (2, 1)
    assert summary["codecs"] == ["PCMA", "PCMU"]
    assert outcomes[2].to_dict()["callee"]["passed"] is False


def test_no_answer_message_says_what_was_heard() -> None:
    assert no_answer_message("sip:x@h", 1.5, None) == "no answer from sip:x@h within 1.5 s (no SIP response)"
    assert no_answer_message("sip:x@h", 10, "180 Ringing").endswith("(last response: 180 Ringing)")


def test_record_length_of_a_reference_profile_is_its_recording_plus_the_start_tolerance(
    tmp_path: Path,
) -> None:
    wav = tmp_path / "official.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 12000)  # 750 ms
    prof = tmp_path / "official.toml"
    prof.write_text('kind = "reference"\nid = "official"\nname = "x"\nrecording = "official.wav"\n')
    profile = tones.load_profile(str(prof))
    assert record_seconds(profile) == pytest.approx(0.75 + 1.0 + 0.5)
    parametric = tones.load_profile("example-call-start")
    assert isinstance(parametric, tones.ParametricProfile)
    tolerance = (parametric.tolerances.max_start_delay_ms or 1000.0) / 1000.0
    assert record_seconds(parametric) == pytest.approx(parametric.total_ms() / 1000.0 + tolerance + 0.5)


def test_rtp_ports_grow_with_the_calls_held_at_once() -> None:
    assert rtp_ports_needed(1, False) == 24
    assert rtp_ports_needed(2, True) == rtp_ports_needed(4, False) == 36


def test_without_a_rate_a_freed_slot_waits_the_interval_whatever_the_concurrency() -> None:
    pacer = Pacer(concurrency=2, interval_s=0.3)
    pacer.on_start(0.0)
    assert pacer.next_start(0.0, active=1) == 0.0  # the second slot was never used
    pacer.on_start(0.0)
    assert pacer.next_start(1.0, active=2) is None
    pacer.on_end(2.0)
    assert pacer.next_start(2.1, active=1) == pytest.approx(2.3)

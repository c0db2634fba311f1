"""``sipcheck probe``: call a target, record from answer, validate the identification tone.

Exit codes: 0 every call passed, 1 a call failed (no answer, no tone, tone out
of tolerance), 4 bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_ERROR = 4


def _error(message: str) -> int:
    print(f"sipcheck probe: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"--header wants 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def _line(outcome: Any) -> str:
    if outcome.validation is not None:
        v = outcome.validation
        offset = (
            "" if v.start_offset_ms is None else f"; tone starts {v.start_offset_ms:+.0f} ms after answer"
        )
        detail = "" if v.passed else ": " + "; ".join(f.message for f in v.failures)
        return f"call {outcome.index + 1}: {'PASS' if v.passed else 'FAIL'} {v.profile_id}{offset}{detail}"
    return f"call {outcome.index + 1}: FAIL {outcome.error}"


def _run(args: argparse.Namespace) -> int:
    from sipcheck import tones
    from sipcheck.settings import get_settings

    if args.count < 1:
        return _error("--count must be at least 1")
    if args.interval < 0:
        return _error("--interval must not be negative")
    target = args.target if args.target.lower().startswith(("sip:", "sips:")) else f"sip:{args.target}"
    try:
        settings = get_settings()
        profile = tones.load_profile(args.profile or settings.sip.tone_profile)
    except (tones.ProfileError, ValueError) as exc:
        return _error(str(exc))
    workdir = Path(args.record_dir) if args.record_dir else Path(tempfile.mkdtemp(prefix="sipcheck-probe-"))
    from sipcheck.sip.probe_call import run_probe

    def report(outcome: Any) -> None:
        if not args.json:
            print(_line(outcome), flush=True)

    try:
        outcomes = run_probe(
            target,
            profile,
            workdir,
            count=args.count,
            interval_s=args.interval,
            record_s=args.record_ms / 1000.0 if args.record_ms else None,
            caller=args.caller,
            headers=tuple(args.header or ()),
            codecs=tuple(settings.sip.codecs),
            on_outcome=report,
            sip_port=args.sip_port,
            rtp_port=args.rtp_port,
        )
    except RuntimeError as exc:
        return _error(str(exc))
    if args.plot:
        last = next((o for o in reversed(outcomes) if o.validation is not None and o.recording), None)
        if last is None or last.recording is None or last.validation is None:
            print("sipcheck probe: no recording to plot", file=sys.stderr)
        else:
            from sipcheck.tones.plot import PlotUnavailableError, plot_validation

            audio = tones.read_audio(last.recording)
            try:
                plot_validation(audio.samples, audio.sample_rate, profile, last.validation, args.plot)
            except PlotUnavailableError as exc:
                return _error(str(exc))
    passed = sum(1 for o in outcomes if o.passed)
    offsets = sorted(
        o.validation.start_offset_ms
        for o in outcomes
        if o.validation is not None and o.validation.start_offset_ms is not None
    )
    summary = {
        "target": target,
        "profile": profile.id,
        "calls": len(outcomes),
        "passed": passed,
        "failed": len(outcomes) - passed,
        "start_offset_ms_p50": offsets[len(offsets) // 2] if offsets else None,
        "start_offset_ms_max": offsets[-1] if offsets else None,
        "recordings": str(workdir),
    }
    if args.json:
        print(
            json.dumps(
                {"summary": summary, "calls": [o.to_dict() for o in outcomes]}, ensure_ascii=False, indent=2
            )
        )
    elif len(outcomes) > 1:
        print(f"{passed}/{len(outcomes)} calls passed; recordings in {workdir}")
    if args.report:
        Path(args.report).write_text(
            json.dumps(
                {"summary": summary, "calls": [o.to_dict() for o in outcomes]}, ensure_ascii=False, indent=2
            )
        )
    return EXIT_PASS if passed == len(outcomes) else EXIT_FAIL


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe",
        help="place test calls and validate the identification tone heard from answer on",
        description=(
            "Call TARGET (a SIP URI), record what is heard from answer for the profile's length plus its "
            "start tolerance, hang up and validate the recording against the tone profile."
        ),
    )
    parser.add_argument("target", help="SIP URI to call, e.g. sip:0399990000@127.0.0.1:5070")
    parser.add_argument("--profile", help="tone profile id or file (default: sip.tone_profile)")
    parser.add_argument("--count", type=int, default=1, help="number of calls (default 1)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between calls (default 1)")
    parser.add_argument(
        "--record-ms", type=float, help="how long to record from answer (default: profile + tolerance)"
    )
    parser.add_argument("--caller", help="From header for the calls, e.g. '<sip:0352535111@127.0.0.1>'")
    parser.add_argument(
        "--header", action="append", type=_header, help="extra header 'Name: value' (repeatable)"
    )
    parser.add_argument("--record-dir", help="where recordings go (default: a new temporary directory)")
    parser.add_argument(
        "--sip-port",
        type=int,
        default=0,
        metavar="PORT",
        help="the probe's local SIP UDP port (default: a free one)",
    )
    parser.add_argument(
        "--rtp-port",
        type=int,
        default=0,
        metavar="PORT",
        help="first of the 20 local RTP/RTCP ports the probe uses (default: pjsip's own range)",
    )
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--report", metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument("--plot", metavar="PNG", help="write a spectrogram of the last call's validation")
    parser.set_defaults(func=_run)

"""``sipcheck probe``: call a target, record from answer, validate the identification tone.

Exit codes: 0 every call passed (calls the target shed with a 503 are counted
apart, but at least one must pass), 1 a call failed (no answer, no tone, tone
out of tolerance, on either side), 4 bad input or usage.
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


def _validation_text(v: Any) -> str:
    offset = "" if v.start_offset_ms is None else f"; tone starts {v.start_offset_ms:+.0f} ms after answer"
    detail = "" if v.passed else ": " + "; ".join(f.message for f in v.failures)
    return f"{'PASS' if v.passed else 'FAIL'} {v.profile_id}{offset}{detail}"


def _line(outcome: Any) -> str:
    head = f"call {outcome.index + 1}:"
    if outcome.shed:
        return f"{head} SHED {outcome.error}"
    if outcome.validation is None:
        return f"{head} FAIL {outcome.error}"
    codec = f" [{outcome.codec}]" if outcome.codec else ""
    text = f"{head} caller {_validation_text(outcome.validation)}{codec}"
    callee = outcome.callee
    if callee is not None:
        heard = (
            _validation_text(callee.validation) if callee.validation is not None else f"FAIL {callee.error}"
        )
        text += f"; callee {heard}"
    return text


def _plot(path: Path, recording: Path, profile: Any, validation: Any) -> str | None:
    """Plot one recording's validation to ``path``; an error message when matplotlib cannot."""
    from sipcheck import tones
    from sipcheck.tones.plot import PlotUnavailableError, plot_validation

    audio = tones.read_audio(recording)
    try:
        plot_validation(audio.samples, audio.sample_rate, profile, validation, path)
    except PlotUnavailableError as exc:
        return str(exc)
    return None


def _plots(args: argparse.Namespace, outcomes: list[Any], profile: Any) -> str | None:
    if args.plot_dir:
        folder = Path(args.plot_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for o in outcomes:
            for side, party in (("caller", o), ("callee", o.callee)):
                if party is not None and party.validation is not None and party.recording is not None:
                    error = _plot(
                        folder / f"probe-{o.index:04d}-{side}.png", party.recording, profile, party.validation
                    )
                    if error:
                        return error
    if args.plot:
        last = next((o for o in reversed(outcomes) if o.validation is not None and o.recording), None)
        if last is None:
            print("sipcheck probe: no recording to plot", file=sys.stderr)
            return None
        return _plot(Path(args.plot), last.recording, profile, last.validation)
    return None


def _run(args: argparse.Namespace) -> int:
    from sipcheck import tones
    from sipcheck.settings import get_settings

    if args.count < 1:
        return _error("--count must be at least 1")
    if args.interval < 0:
        return _error("--interval must not be negative")
    if args.concurrency < 1:
        return _error("--concurrency must be at least 1")
    if args.rate is not None and args.rate <= 0:
        return _error("--rate must be positive")
    if args.answer_timeout <= 0:
        return _error("--answer-timeout must be positive")
    if args.answer and not args.sip_port:
        return _error("--answer needs --sip-port: the target forwards to that port, so it must be known")
    target = args.target if args.target.lower().startswith(("sip:", "sips:")) else f"sip:{args.target}"
    try:
        settings = get_settings()
        profile = tones.load_profile(args.profile or settings.sip.tone_profile)
    except (tones.ProfileError, ValueError) as exc:
        return _error(str(exc))
    codecs = (f"{args.codec}/8000",) if args.codec else tuple(settings.sip.codecs)
    workdir = Path(args.record_dir) if args.record_dir else Path(tempfile.mkdtemp(prefix="sipcheck-probe-"))
    from sipcheck.sip.probe_plan import summarize
    from sipcheck.sip.probe_run import ProbeRun, run_probe

    def report(outcome: Any) -> None:
        if not args.json:
            print(_line(outcome), flush=True)

    try:
        run = ProbeRun(
            target,
            profile,
            workdir,
            count=args.count,
            interval_s=args.interval,
            concurrency=args.concurrency,
            rate_cps=args.rate,
            record_s=args.record_ms / 1000.0 if args.record_ms else None,
            caller=args.caller,
            headers=tuple(args.header or ()),
            codecs=codecs,
            answer_timeout_s=args.answer_timeout,
            answer_calls=args.answer,
            sip_port=args.sip_port,
            rtp_port=args.rtp_port,
        )
        outcomes = run_probe(run, on_outcome=report)
    except (RuntimeError, ValueError) as exc:
        return _error(str(exc))
    error = _plots(args, outcomes, profile)
    if error:
        return _error(error)
    summary = summarize(target, profile.id, outcomes, workdir)
    document = {"summary": summary, "calls": [o.to_dict() for o in outcomes]}
    if args.json:
        print(json.dumps(document, ensure_ascii=False, indent=2))
    elif len(outcomes) > 1:
        shed = f", {summary['shed_503']} shed (503)" if summary["shed_503"] else ""
        print(f"{summary['passed']}/{len(outcomes)} calls passed{shed}; recordings in {workdir}")
    if args.report:
        Path(args.report).write_text(json.dumps(document, ensure_ascii=False, indent=2))
    # Shed calls measure the target's capacity: neither pass nor fail, but a run must prove something.
    return EXIT_PASS if summary["failed"] == 0 and summary["passed"] > 0 else EXIT_FAIL


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
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between one call's end and the next (default 1)"
    )
    parser.add_argument("--concurrency", type=int, default=1, metavar="N", help="calls at once (default 1)")
    parser.add_argument(
        "--rate",
        type=float,
        metavar="CPS",
        help="start calls at this rate (calls/s), at most --concurrency at once; 503 answers count as shed",
    )
    parser.add_argument(
        "--codec", choices=("PCMU", "PCMA"), help="offer only this codec (default: sip.codecs)"
    )
    parser.add_argument(
        "--answer-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="give up on a call not answered within S seconds (default 10)",
    )
    parser.add_argument(
        "--answer",
        action="store_true",
        help=(
            "also be the called party: answer the calls the target forwards to --sip-port, and validate "
            "what the callee hears too"
        ),
    )
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
        help=(
            "first of the local RTP/RTCP ports the probe uses: 20 plus 4 per concurrent call, twice that "
            "with --answer (default: pjsip's own range)"
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--report", metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument("--plot", metavar="PNG", help="write a spectrogram of the last call's validation")
    parser.add_argument(
        "--plot-dir", metavar="DIR", help="write one plot per call and party (probe-NNNN-caller/callee.png)"
    )
    parser.set_defaults(func=_run)

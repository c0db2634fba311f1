"""``sipcheck tone``: list, render and verify identification-tone profiles; report over many files.

Exit codes: 0 success (verify: the tone passed), 1 verify failed, 3 verify
inconclusive (too much of the tone was lost to judge: place the call again), 4 bad
input or usage. Bad input prints one line naming the file and the problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_INCONCLUSIVE = 3
EXIT_ERROR = 4
EXIT_BY_OUTCOME = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "inconclusive": EXIT_INCONCLUSIVE}


def _error(message: str) -> int:
    print(f"sipcheck tone: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _profile_name(args: argparse.Namespace) -> str:
    if args.profile:
        return str(args.profile)
    from sipcheck.settings import get_settings

    return get_settings().sip.tone_profile


def _cmd_profiles(args: argparse.Namespace) -> int:
    from sipcheck.tones import ParametricProfile, builtin_profiles

    profiles = builtin_profiles()
    if args.json:
        print(
            json.dumps([p.model_dump(mode="json") for p in profiles.values()], ensure_ascii=False, indent=2)
        )
        return EXIT_PASS
    for p in profiles.values():
        if isinstance(p, ParametricProfile):
            shape = f"{len(p.expected())} bursts, {p.total_ms():.0f} ms"
        else:
            shape = f"reference {p.recording}"
        print(f"{p.id:<20} {shape:<22} {p.name}")
        print(f"{'':<20} {p.description}")
    return EXIT_PASS


def _cmd_render(args: argparse.Namespace) -> int:
    from sipcheck.tones import AudioFormatError, ProfileError, load_profile, render_bytes
    from sipcheck.tones.g711 import parse_codec

    try:
        profile = load_profile(_profile_name(args))
        data = render_bytes(profile, args.format, args.rate or 8000, codec=parse_codec(args.codec))
        Path(args.output).write_bytes(data)
    except (ProfileError, AudioFormatError, ValueError) as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"{args.output}: cannot write: {exc.strerror or exc}")
    print(f"wrote {args.output} ({args.format}, {len(data)} bytes) from profile {profile.id}")
    return EXIT_PASS


def _burst_line(check: Any) -> str:
    seg = check.measured
    exp_f = "+".join(f"{f:g}" for f in check.expected_frequencies_hz)
    if seg is None:
        return f"  burst {check.burst + 1}: expected {exp_f} Hz {check.expected_duration_ms:g} ms: not found"
    freqs = "+".join(f"{f:.1f}" for f in seg.frequencies_hz)
    errs = "/".join(f"{e:+.2f} %" for e in check.frequency_errors_pct)
    status = "ok" if not check.failures else "FAIL"
    return (
        f"  burst {check.burst + 1}: {freqs} Hz ({errs}), {seg.duration_ms:.0f} ms "
        f"({check.duration_error_ms:+.0f}), {seg.level_dbm0:.1f} dBm0, "
        f"tone/rest {seg.tone_to_rest_db:.1f} dB, "
        f"at {check.start_offset_ms:+.0f} ms  {status}"
    )


_OUTCOME_RANK = {"pass": 2, "inconclusive": 1, "fail": 0}


def _cmd_verify(args: argparse.Namespace) -> int:
    from sipcheck.tones import AudioFormatError, ProfileError, load_profile, validate_recording
    from sipcheck.tones.audiofile import read_audio_candidates

    try:
        profile = load_profile(_profile_name(args))
        ssrc = int(args.ssrc, 0) if args.ssrc is not None else None
        candidates = read_audio_candidates(
            args.file, fmt=args.format, channel=args.channel, ssrc=ssrc, port=args.port, conceal=args.conceal
        )
        tried: list[tuple[int, int, Any, Any]] = []
        for audio in candidates:
            result = validate_recording(audio, profile, offset_ms=args.offset_ms)
            tried.append((_OUTCOME_RANK[result.outcome], -len(tried), audio, result))
        # Several streams to one party (the tone's own SSRC beside forwarded audio): the one that
        # holds the tone is what the party heard; the first (most packets) wins a tie.
        _rank, _order, audio, result = max(tried, key=lambda item: (item[0], item[1]))
    except (ProfileError, AudioFormatError) as exc:
        return _error(str(exc))
    except ValueError as exc:
        return _error(f"{args.file}: {exc}")
    if args.plot:
        from sipcheck.tones.plot import PlotUnavailableError, plot_validation

        try:
            plot_validation(audio.samples, audio.sample_rate, profile, result, args.plot)
        except PlotUnavailableError as exc:
            return _error(str(exc))
        except OSError as exc:
            return _error(f"{args.plot}: cannot write plot: {exc.strerror or exc}")
    if args.json:
        out = result.to_dict()
        out["file"] = str(args.file)
        out["stream"] = audio.description
        out["streams_considered"] = len(tried)
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        verdict = result.outcome.upper()
        offset = "" if result.start_offset_ms is None else f"; tone starts {result.start_offset_ms:+.0f} ms"
        print(
            f"{verdict} {args.file} against {profile.id} "
            f"(call start {result.call_start_s:.3f} s from {result.call_start_source}{offset})"
        )
        for check in result.bursts:
            print(_burst_line(check))
        for seg in result.unmatched_segments:  # every detected burst no expected one explains
            freqs = "+".join(f"{f:.1f}" for f in seg.frequencies_hz)
            print(
                f"  unmatched: {freqs} Hz, {seg.duration_ms:.0f} ms, {seg.level_dbm0:.1f} dBm0, "
                f"at {(seg.start_s - result.call_start_s) * 1000.0:+.0f} ms"
            )
        if result.reference is not None:
            ref = result.reference
            print(
                f"  reference: envelope r={ref.envelope_correlation:.3f}, "
                f"spectrum r={ref.spectrum_correlation:.3f}, "
                f"gain {ref.gain_db:+.1f} dB"
            )
        for failure in result.failures:
            print(f"  {failure.code}: {failure.message}")
        for item in result.inconclusive:
            print(f"  {item.code}: {item.message}")
    return EXIT_BY_OUTCOME[result.outcome]


class _Progress:
    """Progress on stderr: a bar redrawn in place on a terminal, else one plain line per file."""

    WIDTH = 30

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.bad = 0

    def __call__(self, done: int, total: int, entry: Any) -> None:
        if entry.outcome != "pass":
            self.bad += 1
        if self.tty:
            filled = self.WIDTH * done // max(total, 1)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            end = "\n" if done == total else ""
            self.stream.write(f"\r[{bar}] {done}/{total} files, {self.bad} not passed{end}")
        else:
            self.stream.write(f"[{done}/{total}] {entry.outcome.upper()} {entry.file}\n")
        self.stream.flush()


def _cmd_report(args: argparse.Namespace) -> int:
    from sipcheck.tones import ProfileError, load_profile
    from sipcheck.tones.report import ReadOptions, exit_outcome, expand_paths, run_report, write_report

    if args.jobs is not None and args.jobs < 1:
        return _error(f"--jobs must be at least 1, not {args.jobs}")
    try:
        profile = load_profile(_profile_name(args))
        ssrc = int(args.ssrc, 0) if args.ssrc is not None else None
    except ProfileError as exc:
        return _error(str(exc))
    except ValueError:
        return _error(f"--ssrc {args.ssrc!r} is not a number")
    if not args.no_plot:
        from sipcheck.tones.plot import PlotUnavailableError, ensure_available

        try:
            ensure_available()
        except PlotUnavailableError as exc:
            return _error(f"{exc} (or pass --no-plot)")
    paths = expand_paths(args.files)
    if not paths:
        return _error("no recording or capture found in " + ", ".join(args.files))
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error(f"{out_dir}: cannot create the report folder: {exc.strerror or exc}")
    options = ReadOptions(
        fmt=args.format,
        channel=args.channel,
        ssrc=ssrc,
        port=args.port,
        conceal=args.conceal,
        offset_ms=args.offset_ms,
        plot=not args.no_plot,
    )
    report = run_report(paths, profile, options, jobs=args.jobs, progress=_Progress(sys.stderr))
    try:
        html_path, json_path = write_report(report, out_dir, title=args.title)
    except OSError as exc:
        return _error(f"{out_dir}: cannot write the report: {exc.strerror or exc}")
    c = report.counts()
    print(
        f"{c['total']} files against {profile.id}: {c['pass']} pass, {c['fail']} fail, "
        f"{c['inconclusive']} inconclusive, {c['error']} unreadable"
    )
    for entry in report.ordered():
        if entry.outcome != "pass":
            first = entry.reasons[0] if entry.reasons else ""
            first = first.removeprefix(f"{entry.file}: ")
            print(f"  {entry.outcome.upper()} {entry.file}: {first}")
    print(f"wrote {html_path} and {json_path}")
    return REPORT_EXIT[exit_outcome(report)]


REPORT_EXIT = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "inconclusive": EXIT_INCONCLUSIVE, "error": EXIT_ERROR}
"""``tone report``: 1 if any file failed, else 4 if any could not be read, else 3 if any was
inconclusive, else 0."""


def register(subparsers: Any) -> None:
    """Add ``tone profiles|render|verify`` to the ``sipcheck`` parser."""
    tone = subparsers.add_parser("tone", help="identification tone: list, render and verify profiles")
    sub = tone.add_subparsers(dest="tone_command", metavar="SUBCOMMAND")
    tone.set_defaults(func=lambda _args: (tone.print_help(), EXIT_ERROR)[1])

    p = sub.add_parser("profiles", help="list the built-in tone profiles")
    p.add_argument("--json", action="store_true", help="print the profiles as JSON")
    p.set_defaults(func=_cmd_profiles)

    profile_help = "built-in profile id or a .toml/.json profile file (default: settings sip.tone_profile)"
    r = sub.add_parser("render", help="render a profile to WAV, raw µ-law/A-law or an RTP pcap")
    r.add_argument("--profile", help=profile_help)
    r.add_argument("--format", required=True, choices=["wav", "ulaw", "alaw", "pcap"])
    r.add_argument("--rate", type=int, help="sample rate for wav (8000, 16000, 48000); G.711 is 8000")
    r.add_argument("--codec", default="pcmu", help="RTP payload for pcap: pcmu (default) or pcma")
    r.add_argument("-o", "--output", required=True, metavar="FILE")
    r.set_defaults(func=_cmd_render)

    v = sub.add_parser("verify", help="check that audio holds the profile's tone, within tolerance")
    v.add_argument("file", metavar="FILE", help="WAV, raw .ulaw/.alaw, or a pcap/pcapng with RTP")
    v.add_argument("--profile", help=profile_help)
    v.add_argument("--format", choices=["wav", "ulaw", "alaw", "pcap"], help="override detection by suffix")
    v.add_argument("--channel", type=int, default=0, help="WAV channel to analyse (from 0)")
    v.add_argument("--ssrc", help="RTP stream by SSRC (decimal or 0x hex)")
    v.add_argument("--port", type=int, help="RTP stream by the UDP port it is sent to")
    v.add_argument(
        "--conceal", choices=["silence", "repeat"], default="silence", help="fill for lost packets"
    )
    v.add_argument(
        "--offset-ms", type=float, help="call start within the audio (ms); default: SIP 200 OK, else 0"
    )
    v.add_argument("--json", action="store_true", help="print the full result as JSON")
    v.add_argument(
        "--plot", metavar="PNG", help="write a spectrogram with detected bursts and tolerance boxes"
    )
    v.set_defaults(func=_cmd_verify)

    rp = sub.add_parser(
        "report",
        help="verify many recordings/captures and write an HTML + JSON report",
        description="Verify every FILE (a folder stands for the recordings in it) against one profile, "
        "in parallel, and write report.html (self-contained: summary, counts, each file's reasons and "
        "plot) and report.json into --out. Exit 0 all pass, 1 any fail, 4 any file unreadable (or a "
        "usage error), 3 any inconclusive.",
    )
    rp.add_argument("files", nargs="+", metavar="FILE", help="WAV, raw .ulaw/.alaw, pcap/pcapng, or a folder")
    rp.add_argument("--profile", help=profile_help)
    rp.add_argument("--out", default="tone-report", metavar="DIR", help="report folder (default tone-report)")
    rp.add_argument("--jobs", type=int, help="worker processes (default: one per core; 1: no workers)")
    rp.add_argument("--title", help="heading of the HTML report")
    rp.add_argument("--no-plot", action="store_true", help="leave the plots out (faster)")
    rp.add_argument("--format", choices=["wav", "ulaw", "alaw", "pcap"], help="override detection by suffix")
    rp.add_argument("--channel", type=int, default=0, help="WAV channel to analyse (from 0)")
    rp.add_argument("--ssrc", help="RTP stream by SSRC (decimal or 0x hex)")
    rp.add_argument("--port", type=int, help="RTP stream by the UDP port it is sent to")
    rp.add_argument(
        "--conceal", choices=["silence", "repeat"], default="silence", help="fill for lost packets"
    )
    rp.add_argument(
        "--offset-ms", type=float, help="call start within each audio (ms); default: SIP 200 OK, else 0"
    )
    rp.set_defaults(func=_cmd_report)

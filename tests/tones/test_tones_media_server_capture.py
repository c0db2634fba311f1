"""Captures as media servers make them: a player that sends ahead of real time, and holes in a stream
that are either loss (sequence numbers missing) or audio the sender never sent (sequence numbers
consecutive across a timestamp jump)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sipcheck.tones import pcap, rtp
from sipcheck.tones.profiles import load_profile
from sipcheck.tones.render import g711_pcap, render_g711
from sipcheck.tones.verify import validate_file

PROFILE = load_profile("example-call-start")
SECOND_BURST_FRAMES = range(13, 20)
"""20 ms frames wholly inside the profile's second burst (250–400 ms after a 5 ms lead-in)."""


def _rewrite(
    tmp_path: Path,
    name: str,
    *,
    ahead_packets: int = 0,
    drop: frozenset[int] = frozenset(),
    renumber: bool = False,
) -> Path:
    """The rendered tone capture, with its RTP rewritten.

    ``ahead_packets``: the first that many packets go out 2 ms apart instead of 20 (a player bursting
    ahead of real time, as rtpengine's does), the rest at 20 ms from where the burst left the stream
    ahead. ``drop``: frames removed; with ``renumber`` the sender never sent them (sequence numbers
    stay consecutive), else they were lost on the way (a sequence gap).
    """
    original = pcap.parse_capture(g711_pcap(render_g711(PROFILE, "pcmu"), "pcmu"))
    sip = [d for d in original if d.payload[:1] != b"\x80"]
    media = [d for d in original if d.payload[:1] == b"\x80"]
    start = media[0].time
    seq0 = rtp.parse_rtp(media[0].payload).sequence
    records = [(d.time, pcap.udp_frame(d.src, d.sport, d.dst, d.dport, d.payload)) for d in sip]
    sent = 0
    for i, d in enumerate(media):
        if i in drop:
            continue
        packet = rtp.parse_rtp(d.payload)
        if renumber:
            packet = rtp.RtpPacket(
                packet.payload_type,
                (seq0 + sent) & 0xFFFF,
                packet.timestamp,
                packet.ssrc,
                packet.payload,
                packet.marker,
            )
        when = start + 0.02 * i - 0.018 * min(i, ahead_packets)
        records.append((when, pcap.udp_frame(d.src, d.sport, d.dst, d.dport, packet.to_bytes())))
        sent += 1
    records.sort(key=lambda r: r[0])
    path = tmp_path / name
    path.write_bytes(pcap.pcap_bytes(records))
    return path


def test_a_sender_ahead_of_real_time_is_timed_from_its_first_packet(tmp_path: Path) -> None:
    real_time = validate_file(_rewrite(tmp_path, "paced.pcap"), PROFILE)
    ahead = validate_file(_rewrite(tmp_path, "ahead.pcap", ahead_packets=9), PROFILE)
    assert real_time.outcome == ahead.outcome == "pass"
    assert real_time.start_offset_ms is not None and ahead.start_offset_ms is not None
    # 9 packets 18 ms early each: 162 ms of lead, which the least-delayed packet would have added.
    assert ahead.start_offset_ms == pytest.approx(real_time.start_offset_ms, abs=3)
    assert real_time.start_offset_ms == pytest.approx(5, abs=3)


def test_a_hole_between_consecutive_sequence_numbers_is_not_loss() -> None:
    codes = bytes((i * 5) & 0xFF for i in range(10 * 160))
    packets = rtp.packetize(codes, "pcmu", ssrc=9, first_sequence=65533)
    skipped = [p for i, p in enumerate(packets) if i not in (4, 5)]
    renumbered = [
        rtp.RtpPacket(p.payload_type, (65533 + n) & 0xFFFF, p.timestamp, p.ssrc, p.payload)
        for n, p in enumerate(skipped)
    ]
    lost = rtp.depacketize(skipped)
    unsent = rtp.depacketize(renumbered)
    assert len(lost.samples) == len(unsent.samples) == 10 * 160
    assert np.flatnonzero(lost.lost).tolist() == list(range(4 * 160, 6 * 160))
    assert not unsent.lost.any()
    assert not unsent.samples[4 * 160 : 6 * 160].any()


def test_tone_packets_lost_are_inconclusive_and_never_sent_fail(tmp_path: Path) -> None:
    drop = frozenset(SECOND_BURST_FRAMES)
    lost = validate_file(_rewrite(tmp_path, "lost.pcap", drop=drop), PROFILE)
    unsent = validate_file(_rewrite(tmp_path, "unsent.pcap", drop=drop, renumber=True), PROFILE)
    assert lost.outcome == "inconclusive"
    assert lost.inconclusive_codes == ("lost_packets",)
    assert unsent.outcome == "fail", unsent.to_dict()
    assert not unsent.inconclusive

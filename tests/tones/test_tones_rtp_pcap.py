"""RTP packetization, depacketization with loss and reordering, pcap writing and reading."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from pathlib import Path

import dpkt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipcheck.tones import g711, pcap, rtp
from sipcheck.tones.audiofile import read_audio
from sipcheck.tones.errors import AudioFormatError
from sipcheck.tones.profiles import load_profile
from sipcheck.tones.render import g711_pcap, render_g711
from sipcheck.tones.verify import validate_file


def test_packetize_headers() -> None:
    codes = bytes(range(200)) * 4  # 800 bytes = 5 frames
    packets = rtp.packetize(codes, "pcma", ssrc=0x1234, first_sequence=65534, first_timestamp=2**32 - 160)
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1, 2]
    assert [p.timestamp for p in packets] == [2**32 - 160, 0, 160, 320, 480]
    assert all(p.payload_type == 8 and len(p.payload) == 160 for p in packets)
    assert [p.marker for p in packets] == [True, False, False, False, False]
    raw = packets[2].to_bytes()
    assert raw[:2] == b"\x80\x08" and struct.unpack("!HII", raw[2:12]) == (0, 160, 0x1234)
    assert rtp.parse_rtp(raw) == packets[2]


def test_parse_rtp_skips_csrc_extension_and_padding() -> None:
    header = bytes([0x80 | 0x20 | 0x10 | 0x01, 0x00]) + struct.pack("!HII", 7, 1600, 99)
    csrc = b"\x00\x00\x00\x01"
    ext = b"\xbe\xde\x00\x01" + b"\x00" * 4
    packet = rtp.parse_rtp(header + csrc + ext + b"abc" + b"\x00\x02")
    assert packet.payload == b"abc" and packet.sequence == 7 and packet.ssrc == 99


@pytest.mark.parametrize("data", [b"", b"\x00" * 11, b"\x40" + b"\x00" * 20, b"SIP/2.0 200 OK\r\n"])
def test_parse_rtp_rejects_non_rtp(data: bytes) -> None:
    with pytest.raises(ValueError):
        rtp.parse_rtp(data)


def _stream(n_frames: int, codec: g711.Codec = "pcmu") -> tuple[np.ndarray, list[rtp.RtpPacket]]:
    rng = np.random.default_rng(n_frames)
    pcm = rng.integers(-20000, 20000, n_frames * 160).astype(np.int16)
    codes = g711.encode(pcm, codec)
    return g711.decode(codes, codec), rtp.packetize(codes, codec, ssrc=5, first_sequence=65530)


def test_depacketize_reorders_and_marks_loss() -> None:
    decoded, packets = _stream(20)
    rng = random.Random(3)
    dropped = {4, 5, 11}
    kept = [p for i, p in enumerate(packets) if i not in dropped]
    rng.shuffle(kept)
    kept.append(kept[0])  # a duplicate
    out = rtp.depacketize(kept)
    assert len(out.samples) == len(decoded)
    lost_frames = {i for i in range(20) if out.lost[i * 160 : (i + 1) * 160].all()}
    assert lost_frames == dropped
    ok = ~out.lost
    assert np.array_equal(np.rint(out.samples[ok] * 32768).astype(np.int16), decoded[ok])
    assert not out.samples[out.lost].any()


def test_repeat_concealment_copies_previous_frame() -> None:
    _, packets = _stream(10)
    out = rtp.depacketize([p for i, p in enumerate(packets) if i != 6], conceal="repeat")
    assert np.array_equal(out.samples[960:1120], out.samples[800:960])
    assert out.lost[960:1120].all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 65535), st.permutations(list(range(12))), st.sets(st.integers(1, 10), max_size=4))
def test_depacketize_any_start_order_and_loss(first_seq: int, order: list[int], lost: set[int]) -> None:
    codes = bytes((i * 7) & 0xFF for i in range(12 * 160))
    packets = rtp.packetize(codes, "pcmu", ssrc=1, first_sequence=first_seq, first_timestamp=first_seq * 1000)
    arrived = [packets[i] for i in order if i not in lost]
    out = rtp.depacketize(arrived)
    expected_lost = np.zeros(12 * 160, dtype=bool)
    for i in lost:
        expected_lost[i * 160 : (i + 1) * 160] = True
    assert np.array_equal(out.lost, expected_lost)


def test_written_pcap_is_read_by_dpkt(tmp_path: Path) -> None:
    codes = render_g711(load_profile("example-call-start"), "pcmu")
    path = tmp_path / "t.pcap"
    path.write_bytes(g711_pcap(codes, "pcmu"))
    with path.open("rb") as fh:
        records = list(dpkt.pcap.Reader(fh))
    rtp_payloads = []
    sip = []
    for _, buf in records:
        eth = dpkt.ethernet.Ethernet(buf)
        udp = eth.data.data
        assert isinstance(udp, dpkt.udp.UDP)
        if udp.data.startswith(b"SIP/2.0") or udp.data[:6] in (b"INVITE", b"ACK si"):
            sip.append(udp.data)
        else:
            rtp_payloads.append(dpkt.rtp.RTP(udp.data))
    assert any(s.startswith(b"SIP/2.0 200 OK") for s in sip)
    assert b"".join(r.data for r in rtp_payloads) == codes
    assert [r.seq for r in rtp_payloads[:18]][15:] == [65535, 0, 1]


def _shuffled_lossy_pcap(path: Path, drop: set[int]) -> bytes:
    """Rewrite a rendered pcap with some RTP packets dropped and neighbours swapped."""
    codes = render_g711(load_profile("jp-busy"), "pcma")
    original = pcap.parse_capture(g711_pcap(codes, "pcma"))
    sip = [d for d in original if d.payload[:1] != b"\x80"]
    media = [d for d in original if d.payload[:1] == b"\x80"]
    kept = [d for i, d in enumerate(media) if i not in drop]
    for i in range(0, len(kept) - 1, 7):
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    records = [(d.time, pcap.udp_frame(d.src, d.sport, d.dst, d.dport, d.payload)) for d in sip + kept]
    path.write_bytes(pcap.pcap_bytes(records))
    return codes


def test_pcap_round_trip_with_loss_and_reordering(tmp_path: Path) -> None:
    path = tmp_path / "lossy.pcap"
    drop = {30, 31, 77, 120}
    _shuffled_lossy_pcap(path, drop)
    audio = read_audio(path)
    assert audio.lost is not None
    for i in drop:
        assert audio.lost[i * 160 : (i + 1) * 160].all()
    assert np.count_nonzero(audio.lost) == len(drop) * 160
    assert audio.call_start_s == pytest.approx(0.0, abs=1e-6)
    result = validate_file(path, load_profile("jp-busy"))
    assert result.passed, result.failures
    assert result.call_start_source == "sip-200-ok"


def test_stream_selection_by_ssrc_and_port(tmp_path: Path) -> None:
    codes = render_g711(load_profile("example-call-start"), "pcmu")
    records = []
    for n, (ssrc, dport) in enumerate([(0xAAAA, 4000), (0xBBBB, 6000)]):
        for p in rtp.packetize(codes if n else bytes([0xFF]) * len(codes), "pcmu", ssrc=ssrc):
            records.append(
                (p.sequence * 0.02, pcap.udp_frame("10.0.0.1", 1000 + n, "10.0.0.2", dport, p.to_bytes()))
            )
    path = tmp_path / "two.pcap"
    path.write_bytes(pcap.pcap_bytes(records))
    assert validate_file(path, load_profile("example-call-start"), ssrc=0xBBBB).passed
    assert validate_file(path, load_profile("example-call-start"), port=6000).passed
    assert not validate_file(path, load_profile("example-call-start"), port=4000).passed
    with pytest.raises(
        AudioFormatError, match=r"two\.pcap: no RTP stream with SSRC 0x0000cccc; streams present"
    ):
        read_audio(path, ssrc=0xCCCC)


def test_reader_understands_linux_cooked_raw_and_ipv6() -> None:
    payload = rtp.RtpPacket(0, 1, 0, 7, b"\xff" * 160).to_bytes()
    eth = pcap.udp_frame("10.0.0.1", 1, "10.0.0.2", 2, payload)
    ipv4 = eth[14:]
    sll = b"\x00\x00\x00\x01\x00\x06" + b"\x00" * 8 + b"\x08\x00" + ipv4
    udp = struct.pack("!HHHH", 1, 2, 8 + len(payload), 0) + payload
    ipv6 = struct.pack("!IHBB", 6 << 28, len(udp), 17, 64) + bytes(15) + b"\x01" + bytes(15) + b"\x02" + udp
    for linktype, frame in [
        (113, sll),
        (101, ipv4),
        (229, ipv6),
        (1, eth[:12] + b"\x81\x00\x00\x05\x08\x00" + ipv4),
    ]:
        header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
        data = header + struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
        (dgram,) = pcap.parse_capture(data)
        assert dgram.payload == payload and dgram.dport == 2


@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap (wireshark) not installed")
def test_pcapng_from_wireshark_tools(tmp_path: Path) -> None:
    src = tmp_path / "t.pcap"
    src.write_bytes(g711_pcap(render_g711(load_profile("itu-sit"), "pcmu"), "pcmu"))
    dst = tmp_path / "t.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(src), str(dst)], check=True, capture_output=True)
    assert dst.read_bytes()[:4] == b"\n\r\r\n"
    assert validate_file(dst, load_profile("itu-sit")).passed


def test_non_rtp_pcap_is_a_clear_error(tmp_path: Path) -> None:
    records = [
        (i * 0.1, pcap.udp_frame("10.0.0.1", 53, "10.0.0.2", 5353, b"\x12\x34" + bytes(30))) for i in range(9)
    ]
    path = tmp_path / "dns.pcap"
    path.write_bytes(pcap.pcap_bytes(records))
    with pytest.raises(AudioFormatError, match=r"dns\.pcap: no G\.711 RTP stream"):
        read_audio(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "truncated pcap header"),
        (b"garbage!", "not a pcap or pcapng"),
    ],
)
def test_malformed_captures(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.cap"
    path.write_bytes(content)
    with pytest.raises(AudioFormatError, match=message):
        read_audio(path)

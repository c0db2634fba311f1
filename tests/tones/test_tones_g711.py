"""G.711 against the independent reference in CPython's stdlib `audioop`."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipcheck.tones import g711
from sipcheck.tones.levels import from_pcm16, power_to_dbm0

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_encode_matches_audioop_for_every_int16() -> None:
    assert g711.encode(ALL_INT16, "pcmu") == audioop.lin2ulaw(ALL_INT16.astype("<i2").tobytes(), 2)


def test_alaw_encode_matches_audioop_for_every_int16() -> None:
    assert g711.encode(ALL_INT16, "pcma") == audioop.lin2alaw(ALL_INT16.astype("<i2").tobytes(), 2)


@pytest.mark.parametrize(("codec", "ref"), [("pcmu", audioop.ulaw2lin), ("pcma", audioop.alaw2lin)])
def test_decode_matches_audioop_for_every_code(codec: g711.Codec, ref: object) -> None:
    expected = np.frombuffer(ref(ALL_CODES, 2), dtype="<i2")  # type: ignore[operator]
    assert np.array_equal(g711.decode(ALL_CODES, codec), expected)


@pytest.mark.parametrize("codec", ["pcmu", "pcma"])
def test_decode_then_encode_is_identity_except_negative_zero(codec: g711.Codec) -> None:
    decoded = g711.decode(ALL_CODES, codec)
    again = np.frombuffer(g711.encode(decoded, codec), dtype=np.uint8)
    same = again == np.frombuffer(ALL_CODES, dtype=np.uint8)
    # µ-law has two codes for zero (0x7F, 0xFF); everything else round-trips exactly.
    assert np.all(same | (decoded == 0))


@pytest.mark.parametrize(
    ("codec", "sequence"),
    [
        ("pcmu", bytes([0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E])),
        ("pcma", bytes([0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4])),
    ],
)
def test_digital_milliwatt_is_zero_dbm0(codec: g711.Codec, sequence: bytes) -> None:
    x = from_pcm16(g711.decode(sequence, codec))
    assert abs(power_to_dbm0(float(np.mean(x**2)))) < 0.1


@given(st.lists(st.integers(-32768, 32767), max_size=400), st.sampled_from(["pcmu", "pcma"]))
def test_any_signal_matches_audioop(values: list[int], codec: g711.Codec) -> None:
    pcm = np.array(values, dtype=np.int16)
    ref = audioop.lin2ulaw if codec == "pcmu" else audioop.lin2alaw
    assert g711.encode(pcm, codec) == ref(pcm.astype("<i2").tobytes(), 2)


def test_encode_rejects_non_int16() -> None:
    with pytest.raises(TypeError):
        g711.encode(np.zeros(4, dtype=np.float64), "pcmu")


def test_parse_codec_spellings() -> None:
    assert g711.parse_codec("µ-law") == "pcmu"
    assert g711.parse_codec("PCMA") == "pcma"
    with pytest.raises(ValueError, match=r"unknown G\.711 codec"):
        g711.parse_codec("g722")

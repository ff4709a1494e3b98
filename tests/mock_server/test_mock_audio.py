"""The shared audio module: real files in every codec, round trips, probing, and garbage."""

from __future__ import annotations

import io
import time

import av
import numpy as np
import pytest
import soundfile
from asr_conformance.mock_server import audio, audio_ffmpeg

RATES = (8000, 16000, 22050, 44100, 48000)
# lossy codecs shift and pad (encoder delay, frame padding): see the module docstring
DURATION_TOLERANCE_S = {
    "wav": 0.0,
    "flac": 0.0,
    "ogg": 0.03,
    "opus": 0.03,
    "mp3": 0.06,
    "webm": 0.03,
    "m4a": 0.05,
}
# the rate a decoder reports for a file encoded from `rate`
OPUS_RATE = 48000


def tone(rate: int, channels: int, seconds: float = 1.0, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    left = 0.3 * np.sin(2 * np.pi * freq * t)
    cols = [left, 0.2 * np.sin(2 * np.pi * freq * t + 0.5)][:channels]
    return np.stack(cols, axis=1).astype(np.float32)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("codec", audio.CODECS)
def test_round_trip(codec: str, rate: int, channels: int) -> None:
    source = tone(rate, channels)
    data = audio.encode(source, rate, codec)
    assert data == audio.encode(source, rate, codec), "same input must give the same bytes"

    info = audio.probe(data)
    assert info.channels == channels
    if codec in ("opus", "webm"):
        assert info.sample_rate == OPUS_RATE
    else:
        assert info.sample_rate == rate
    assert abs(info.duration_s - 1.0) <= DURATION_TOLERANCE_S[codec] + 1e-9

    decoded = audio.decode(data, target_rate=16000)
    assert decoded.sample_rate == 16000
    assert decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    assert decoded.source_channels == channels
    assert decoded.source_sample_rate == info.sample_rate
    assert decoded.source_format == info.format
    assert abs(decoded.duration_s - info.duration_s) < 0.002
    assert abs(dominant_hz(decoded.samples, 16000) - 440.0) < 5.0
    assert decoded.sha256 == audio._sha256(data)


@pytest.mark.parametrize("sample_format", ["s16", "s24", "flt"])
def test_wav_sample_formats_match_libsndfile(sample_format: str) -> None:
    source = tone(16000, 1, 0.5)
    data = audio.encode(source, 16000, "wav", sample_format)
    reference, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    decoded = audio.decode(data)
    assert rate == 16000
    np.testing.assert_allclose(decoded.samples, reference, atol=1e-7)
    assert (
        audio.probe(data).codec == {"s16": "pcm_s16le", "s24": "pcm_s24le", "flt": "pcm_f32le"}[sample_format]
    )


@pytest.mark.parametrize("sample_format", ["s16", "s24"])
def test_flac_sample_formats_are_lossless(sample_format: str) -> None:
    source = tone(16000, 1, 0.5)
    decoded = audio.decode(audio.encode(source, 16000, "flac", sample_format))
    step = 1 / 32768 if sample_format == "s16" else 1 / 8388608
    assert np.max(np.abs(decoded.samples - source[:, 0])) <= step


def test_flac_has_no_float() -> None:
    with pytest.raises(ValueError, match="flac"):
        audio.encode(tone(16000, 1), 16000, "flac", "flt")


def test_wav_fast_path_matches_ffmpeg_resampling() -> None:
    """The numpy WAV reader and the FFmpeg path must agree, so the route a file takes never matters."""
    data = audio.encode(tone(44100, 2, 0.5), 44100, "wav")
    fast = audio.decode(data)
    slow = audio_ffmpeg.decode_ffmpeg(data, 16000, "x", audio.DEFAULT_MAX_SECONDS)
    assert fast.samples.shape == slow.samples.shape
    np.testing.assert_allclose(fast.samples, slow.samples, atol=1e-4)


def test_resampling_and_stereo_downmix() -> None:
    decoded = audio.decode(audio.encode(tone(48000, 2, 2.0), 48000, "wav"), target_rate=8000)
    assert decoded.sample_rate == 8000
    assert len(decoded.samples) == 16000
    assert decoded.source_channels == 2 and decoded.source_sample_rate == 48000


def test_streaming_wav_size_fields_are_accepted() -> None:
    data = bytearray(audio.encode(tone(16000, 1, 0.5), 16000, "wav"))
    data[40:44] = b"\xff\xff\xff\xff"  # data chunk size as written by a writer that cannot seek
    assert audio.decode(bytes(data)).duration_s == pytest.approx(0.5)


@pytest.mark.parametrize("codec", ["wav", "flac"])
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_lossless_files_are_rejected(codec: str, keep: float) -> None:
    data = audio.encode(tone(16000, 1, 2.0), 16000, codec)
    with pytest.raises(audio.AudioDecodeError):
        audio.decode(data[: int(len(data) * keep)])


def video_only_file() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="matroska") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), dtype=np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


GARBAGE = {
    "empty": b"",
    "random-small": np.random.default_rng(9).bytes(1000),
    "random-large": np.random.default_rng(7).bytes(300_000),
    "json": b'{"inputs": "not audio"}',
    "html": b"<html><body>502 Bad Gateway</body></html>" * 50,
    "riff-header-only": b"RIFF\x24\x00\x00\x00WAVE",
    "flac-magic-then-noise": b"fLaC" + np.random.default_rng(1).bytes(500),
    "ogg-magic-then-noise": b"OggS" + np.random.default_rng(2).bytes(3000),
    "id3-then-noise": b"ID3\x04\x00\x00\x00\x00\x00\x00" + np.random.default_rng(3).bytes(5000),
    "wav-without-samples": audio.encode(tone(16000, 1), 16000, "wav")[:44],
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_raises_quickly(name: str) -> None:
    started = time.perf_counter()
    with pytest.raises(audio.AudioDecodeError):
        audio.decode(GARBAGE[name])
    with pytest.raises(audio.AudioDecodeError):
        audio.probe(GARBAGE[name])
    assert time.perf_counter() - started < 2.0


def test_no_audio_stream() -> None:
    with pytest.raises(audio.AudioDecodeError, match="no audio stream"):
        audio.decode(video_only_file())


def test_length_is_bounded() -> None:
    """A small file of silence may decode to hours: the bound stops it (the front maps this to 413)."""
    data = audio.encode(np.zeros((16000 * 5, 1), dtype=np.float32), 16000, "flac")
    with pytest.raises(audio.AudioTooLongError):
        audio.decode(data, max_seconds=2.0)
    with pytest.raises(audio.AudioTooLongError):
        audio.decode(audio.encode(np.zeros((16000 * 5, 1), dtype=np.float32), 16000, "wav"), max_seconds=2.0)
    assert audio.decode(data, max_seconds=6.0).duration_s == pytest.approx(5.0)


def test_encode_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="codec"):
        audio.encode(tone(16000, 1), 16000, "aiff")
    with pytest.raises(ValueError, match="sample format"):
        audio.encode(tone(16000, 1), 16000, "wav", "s8")
    with pytest.raises(ValueError, match="shape"):
        audio.encode(np.zeros((10, 3), dtype=np.float32), 16000, "wav")


def test_ogg_serials_are_fixed_and_crc_valid() -> None:
    data = audio.encode(tone(16000, 1), 16000, "ogg")
    assert data[14:18] == (1).to_bytes(4, "little")
    # libogg itself must accept the rewritten pages (a bad CRC makes the file undecodable)
    reference, _ = soundfile.read(io.BytesIO(data), dtype="float32")
    assert len(reference) > 15000


def test_float_wav_bytes_do_not_depend_on_the_clock():
    """libsndfile's PEAK chunk carries a timestamp; the same samples must still give the same bytes."""
    samples = np.zeros((1600, 1), dtype=np.float32)
    first = audio.encode(samples, 16000, "wav", "flt")
    time.sleep(1.1)
    assert audio.encode(samples, 16000, "wav", "flt") == first

"""The malformed-audio oracle: what mainstream decoders make of a body.

A body the suite calls malformed (and so demands a 4xx for) must be refused by every decoder a faithful
server may use: FFmpeg (here through PyAV, as transformers' ``ffmpeg_read`` and the HF serving images
use it) and libsndfile (through soundfile, as ``soundfile``-based servers use it). The project's own WAV
fast path is never the judge: it refuses damage FFmpeg and libsndfile read (a WAV whose data is shorter
than its header declares decodes in both, frames present).

"Reads" means at least one sample comes out: transformers' ``ffmpeg_read`` itself refuses a stream that
decodes to nothing ("Soundfile is either not in the correct format or is malformed"), so a decoder that
opens a body but yields no audio counts as refusing it.
"""

from __future__ import annotations

import functools
import io

import av
import soundfile

#: Work bound for FFmpeg on garbage: resynchronising decoders scan far before giving up.
_MAX_PACKETS = 2000


def ffmpeg_reads(data: bytes) -> bool:
    """True when FFmpeg (PyAV) decodes at least one audio sample from ``data``."""
    if not data:
        return False
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                return False
            stream = container.streams.audio[0]
            for n, packet in enumerate(container.demux(stream)):
                if n >= _MAX_PACKETS:
                    return False
                for frame in packet.decode():
                    if frame.samples > 0:
                        return True
    except (av.FFmpegError, ValueError, EOFError, OSError, IndexError):
        return False
    return False


def sndfile_reads(data: bytes) -> bool:
    """True when libsndfile (soundfile) reads at least one frame from ``data``."""
    if not data:
        return False
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as f:
            return len(f.read(frames=1024, dtype="float32", always_2d=True)) > 0
    except (soundfile.LibsndfileError, RuntimeError, ValueError, TypeError, EOFError, OSError):
        return False


@functools.lru_cache(maxsize=512)
def readers(data: bytes) -> tuple[str, ...]:
    """The mainstream decoders that read ``data`` (``()``: the body is malformed for every server)."""
    found = []
    if ffmpeg_reads(data):
        found.append("ffmpeg")
    if sndfile_reads(data):
        found.append("libsndfile")
    return tuple(found)


def refused_by_all(data: bytes) -> bool:
    """True when neither FFmpeg nor libsndfile finds audio in ``data``."""
    return not readers(data)


__all__ = ["ffmpeg_reads", "readers", "refused_by_all", "sndfile_reads"]

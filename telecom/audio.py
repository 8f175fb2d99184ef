"""16-bit PCM WAV in and out, and resampling to telephone rate, with the standard library only.

Asterisk plays ``.wav`` as 8 kHz mono 16-bit (its ``wav`` format); a TTS engine speaks at its
own rate (espeak-ng: 22,050 Hz). Resampling is a windowed-sinc low-pass interpolator: a plain
decimation would fold everything above 4 kHz back into the band as hiss.
"""

from __future__ import annotations

import io
import math
import struct
import sys
import wave
from array import array
from functools import lru_cache
from operator import mul

TELEPHONE_RATE = 8000
HALF_TAPS = 16  # taps on each side of an output sample
# The low-pass corner as a share of the output's Nyquist frequency: 3.6 kHz at 8 kHz.
PASSBAND = 0.9


class WavError(ValueError):
    """Not a 16-bit PCM WAV this module reads."""


def read_pcm16(data: bytes) -> tuple[array, int]:
    """The samples (mono, mixed down if need be) and the sample rate of a 16-bit PCM WAV.

    Reads the chunks itself rather than through ``wave``: a WAV written to a pipe (espeak-ng
    ``--stdout``) cannot know its length and says 0x7ffff000; the data runs to the end instead.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError("not a RIFF/WAVE file")
    offset, fmt = 12, None
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"fmt ":
            if size < 16:
                raise WavError("short fmt chunk")
            fmt = struct.unpack_from("<HHIIHH", data, body)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavError("data before fmt")
            audio_format, channels, rate, _byte_rate, _align, bits = fmt
            if audio_format != 1 or bits != 16 or channels < 1:
                raise WavError(f"only 16-bit PCM is read (format {audio_format}, {bits} bits)")
            end = min(len(data), body + size)
            end -= (end - body) % (2 * channels)
            samples = array("h")
            samples.frombytes(data[body:end])
            if sys.byteorder == "big":
                samples.byteswap()
            if channels > 1:
                samples = array(
                    "h", (sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels))
                )
            return samples, rate
        offset = body + size + (size & 1)
    raise WavError("no data chunk")


def write_pcm16(samples: array, rate: int) -> bytes:
    """A mono 16-bit PCM WAV."""
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


@lru_cache(maxsize=8)
def _phases(up: int, down: int) -> tuple[tuple[float, ...], ...]:
    """Per output phase, the filter taps over input samples ``base - HALF_TAPS + 1 … base + HALF_TAPS``."""
    cutoff = 0.5 * min(1.0, up / down) * PASSBAND  # cycles per input sample
    phases = []
    for phase in range(up):
        fraction = phase / up
        taps = []
        for j in range(2 * HALF_TAPS):
            x = (j - HALF_TAPS + 1) - fraction
            sinc = 1.0 if x == 0 else math.sin(2 * math.pi * cutoff * x) / (2 * math.pi * cutoff * x)
            # Blackman window over the span of the taps.
            position = (x + HALF_TAPS) / (2 * HALF_TAPS)
            window = 0.42 - 0.5 * math.cos(2 * math.pi * position) + 0.08 * math.cos(4 * math.pi * position)
            taps.append(2 * cutoff * sinc * max(0.0, window))
        total = sum(taps)
        phases.append(tuple(tap / total for tap in taps))  # unity gain at DC
    return tuple(phases)


def resample(samples: array, from_rate: int, to_rate: int) -> array:
    """``samples`` at ``from_rate`` as 16-bit samples at ``to_rate``."""
    if from_rate == to_rate or not samples:
        return array("h", samples)
    common = math.gcd(from_rate, to_rate)
    up, down = to_rate // common, from_rate // common
    phases = _phases(up, down)
    padded = [0] * HALF_TAPS + list(samples) + [0] * HALF_TAPS
    count = (len(samples) * up + down - 1) // down
    out = array("h", bytes(2 * count))
    for n in range(count):
        base, phase = divmod(n * down, up)
        # Input sample i sits at padded[i + HALF_TAPS]; the taps start HALF_TAPS - 1 before base.
        value = sum(map(mul, phases[phase], padded[base + 1 : base + 1 + 2 * HALF_TAPS]))
        out[n] = max(-32768, min(32767, round(value)))
    return out


def to_telephone_wav(data: bytes) -> bytes:
    """Any 16-bit PCM WAV as 8 kHz mono 16-bit, the WAV Asterisk plays without transcoding."""
    samples, rate = read_pcm16(data)
    return write_pcm16(resample(samples, rate, TELEPHONE_RATE), TELEPHONE_RATE)

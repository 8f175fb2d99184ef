"""Speech for ``say`` steps, with the real espeak-ng: telephone-rate WAVs, rendered once and
served by an unguessable URL; hostile texts and languages are only ever words. Without
espeak-ng these tests skip (and fail in CI, where FASTSOCK_REQUIRE_SYSTEM=1)."""

from __future__ import annotations

import io
import math
import struct
import uuid
import wave
from array import array

import pytest
from django.test import Client

from fastsock.core.testing import skip_or_fail, system_parts_required
from telecom import audio, tts


def require_espeak() -> None:
    if not tts.available():
        skip_or_fail("needs espeak-ng (apt-get install espeak-ng)", required=system_parts_required())


@pytest.fixture
def storage(settings, tmp_path):
    """Rendered speech lands in a folder of this test's own."""
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def espeak(storage):
    require_espeak()
    return storage


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:6]}"


def wav_info(data: bytes) -> tuple[int, int, int, float, int]:
    with wave.open(io.BytesIO(data)) as wav:
        frames = wav.readframes(wav.getnframes())
        samples = array("h", frames)
        return (
            wav.getframerate(),
            wav.getnchannels(),
            wav.getsampwidth(),
            wav.getnframes() / wav.getframerate(),
            max(abs(s) for s in samples),
        )


# --- with espeak-ng ------------------------------------------------------------------------------


@pytest.mark.system
def test_say_renders_an_8khz_mono_16_bit_wav_with_speech_in_it(espeak):
    digest = tts.render("Your order has shipped and will arrive tomorrow.", "en-US")
    stored = espeak / "tts" / f"{digest}.wav"
    rate, channels, width, seconds, peak = wav_info(stored.read_bytes())
    assert (rate, channels, width) == (8000, 1, 2)
    assert 1.5 < seconds < 10
    assert peak > 2000  # speech, not silence


@pytest.mark.system
def test_the_same_words_and_voice_are_rendered_once(espeak, monkeypatch):
    calls = []
    synthesize = tts.synthesize
    monkeypatch.setattr(tts, "synthesize", lambda text, voice: calls.append(text) or synthesize(text, voice))
    text = unique("Please hold")
    first = tts.render(text, "en-us")
    # The same voice by another name, and the same text with stray spaces: the same audio.
    assert tts.render(f"  {text} ", "en-US") == first
    assert len(calls) == 1
    assert tts.render(text, "de") != first
    assert len(calls) == 2
    assert sorted(path.name for path in (espeak / "tts").iterdir()) == sorted(
        [f"{first}.wav", f"{tts.render(text, 'de')}.wav"]
    )


@pytest.mark.system
def test_the_url_serves_the_rendered_file_for_good(espeak, settings):
    settings.PUBLIC_BASE_URL = "https://chat.example.com"
    url = tts.say_url(unique("Welcome"), "en")
    assert url.startswith("sound:https://chat.example.com/telecom/tts/")
    assert url.endswith(".wav")
    path = url.removeprefix("sound:https://chat.example.com")
    response = Client().get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert "immutable" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    digest = path.rsplit("/", 1)[1].removesuffix(".wav")
    assert body == (espeak / "tts" / f"{digest}.wav").read_bytes()
    assert Client().head(path).status_code == 200
    assert Client().get(path, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    assert Client().post(path).status_code == 405


@pytest.mark.parametrize(
    "path",
    [
        "/telecom/tts/" + "0" * 64 + ".wav",  # well formed, never rendered
        "/telecom/tts/" + "A" * 64 + ".wav",
        "/telecom/tts/..%2F..%2Fsettings.wav",
        "/telecom/tts/abc.wav",
    ],
)
def test_audio_that_was_never_rendered_is_not_found(storage, path):
    (storage / "tts").mkdir()
    (storage / "secret.wav").write_bytes(b"RIFF")
    response = Client().get(path)
    assert response.status_code == 404
    assert b"RIFF" not in response.content


def test_the_address_of_speech_cannot_be_computed_without_the_servers_secret(settings):
    digest = tts.digest_for("en-us", "Your code is 4711")
    settings.SECRET_KEY = "another-server-entirely-" + "x" * 40
    assert tts.digest_for("en-us", "Your code is 4711") != digest


@pytest.mark.system
@pytest.mark.parametrize(
    "text",
    [
        "--help",
        "-w {marker}.wav hello",
        "$(touch {marker}); `touch {marker}`",
        '<speak><audio src="file:///etc/passwd"/></speak>',
        "hello\x00world\x1b[31m",
    ],
)
def test_hostile_text_is_only_ever_spoken(espeak, tmp_path, text):
    marker = tmp_path / "pwned"
    digest = tts.render(text.format(marker=marker), "en")
    rate, *_ = wav_info((espeak / "tts" / f"{digest}.wav").read_bytes())
    assert rate == 8000
    assert list(tmp_path.glob("pwned*")) == []


@pytest.mark.system
@pytest.mark.parametrize("language", ["xx", "en; rm -rf /", "../../etc/passwd", "-w", "en us", "e" * 40])
def test_unknown_or_hostile_languages_are_refused(espeak, language):
    with pytest.raises(tts.TtsError):
        tts.render("hello", language)
    assert not (espeak / "tts").exists()


@pytest.mark.parametrize(("text", "problem"), [("", "empty"), (" \x07 ", "empty"), ("x" * 1001, "At most 1000")])
def test_empty_or_overlong_text_is_refused(storage, text, problem):
    with pytest.raises(tts.TtsError, match=problem):
        tts.render(text, "en")


@pytest.mark.system
def test_numbers_and_digits_use_asterisks_own_sounds_and_the_rest_is_rendered(espeak, settings):
    settings.PUBLIC_BASE_URL = "https://chat.example.com"
    assert tts.media_for_say("1234") == tts.SayMedia("number:1234", "en")
    assert tts.media_for_say("-5", "en-GB") == tts.SayMedia("number:-5", "en")
    assert tts.media_for_say("0815") == tts.SayMedia("digits:0815", "en")
    assert tts.media_for_say("+1 415-555-0100") == tts.SayMedia("digits:14155550100", "en")
    assert tts.media_for_say("12345678901") == tts.SayMedia("digits:12345678901", "en")
    # Asterisk has no German number sounds here: German digits are rendered like any text.
    german = tts.media_for_say("42", "de")
    assert german.uri.startswith("sound:https://chat.example.com/telecom/tts/")
    assert german.lang is None
    assert tts.media_for_say("Room 42").uri.startswith("sound:https://")


def test_play_urls_become_ari_media():
    assert tts.media_for_play("sound:tt-monkeys") == "sound:tt-monkeys"
    assert tts.media_for_play("https://example.com/a.wav") == "sound:https://example.com/a.wav"


def test_without_the_engine_speech_is_unavailable_not_a_crash(storage, settings):
    settings.TELECOM_TTS_BINARY = "no-such-espeak-binary"
    assert tts.available() is False
    assert tts.language_known("en") is None
    with pytest.raises(tts.TtsUnavailable):
        tts.render("hello", "en")


def test_an_engine_that_hangs_is_given_up_on(storage, settings, tmp_path):
    hanging = tmp_path / "slow-espeak"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    hanging.chmod(0o755)
    settings.TELECOM_TTS_BINARY = str(hanging)
    settings.TELECOM_TTS_TIMEOUT_SECONDS = 1
    with pytest.raises(tts.TtsUnavailable, match="longer than 1 s"):
        tts.synthesize("hello", "en")


# --- WAV and resampling (no engine needed) -----------------------------------------------------------


def tone(frequency: float, rate: int, seconds: float = 0.5, amplitude: int = 10000) -> array:
    return array(
        "h", (round(amplitude * math.sin(2 * math.pi * frequency * n / rate)) for n in range(int(rate * seconds)))
    )


def rms(samples: array) -> float:
    middle = samples[len(samples) // 4 : 3 * len(samples) // 4]  # away from the edges
    return math.sqrt(sum(s * s for s in middle) / len(middle))


def test_resampling_keeps_speech_frequencies_and_removes_what_8khz_cannot_carry():
    kept = audio.resample(tone(1000, 22050), 22050, 8000)
    assert len(kept) == 4000
    assert rms(kept) == pytest.approx(10000 / math.sqrt(2), rel=0.03)
    removed = audio.resample(tone(6000, 22050), 22050, 8000)
    assert rms(removed) < 0.02 * 10000  # would fold back to 2 kHz without the low-pass


def test_a_streamed_wav_with_an_unknown_length_is_read_to_its_end():
    samples = tone(440, 22050, 0.1)
    header = b"RIFF" + struct.pack("<I", 0x7FFFF024) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, 22050, 44100, 2, 16)
    header += b"data" + struct.pack("<I", 0x7FFFF000)
    read, rate = audio.read_pcm16(header + samples.tobytes())
    assert (rate, list(read)) == (22050, list(samples))
    wav = audio.to_telephone_wav(header + samples.tobytes())
    assert wav_info(wav)[:3] == (8000, 1, 2)


@pytest.mark.parametrize("data", [b"", b"not a wav at all", b"RIFF\x00\x00\x00\x00WAVEdata\x00\x00\x00\x00"])
def test_anything_but_a_16_bit_pcm_wav_is_refused(data):
    with pytest.raises(audio.WavError):
        audio.read_pcm16(data)

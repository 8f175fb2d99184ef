"""Text to speech for the ``say`` step: espeak-ng, rendered once per text and voice, played by URL.

ARI has no text to speech of its own (telecom reference §5.3): Asterisk plays media by URI. So
a ``say`` becomes an 8 kHz mono 16-bit WAV in the default storage under ``tts/<digest>.wav``,
which Asterisk fetches as ``sound:<PUBLIC_BASE_URL>/telecom/tts/<digest>.wav`` through its HTTP
media cache. The digest is an HMAC-SHA256 of (engine, voice, text) keyed with the server's
secret: the same words are rendered once (content-addressed, so the URL needs no auth), yet no
outsider can compute the address of a text to learn whether it was spoken ("your code is 4711").

A text that is only a number or only digits needs no rendering: Asterisk says it from its own
sound files (``number:42``, ``digits:0815``) in the languages it has them for.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.urls import reverse

from . import audio

logger = logging.getLogger(__name__)

ENGINE = "espeak-ng"
# Part of every digest: changing how audio is made must not serve audio made the old way.
OUTPUT_FORMAT = "wav/8000/s16/mono/1"
DEFAULT_LANGUAGE = "en-us"
MAX_TEXT_CHARACTERS = 1000
STORAGE_FOLDER = "tts"
DIGEST = re.compile(r"^[0-9a-f]{64}$")
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}$")
# Newlines and tabs are spoken as pauses; other control characters are dropped.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# "1234" is a number ("one thousand…"); "0815", "12 34" or "555-0100" are read digit by digit.
NUMBER = re.compile(r"^-?(?:0|[1-9][0-9]{0,8})$")
DIGITS = re.compile(r"^\+?[0-9](?:[ -]?[0-9]){0,31}$")


class TtsError(Exception):
    """Speech could not be made from this text or language."""


class TtsUnavailable(TtsError):  # noqa: N818 - a kind of TtsError, named for what happened
    """The engine is not installed, failed or took too long: a server problem, not the text's."""


@dataclass(frozen=True)
class SayMedia:
    """What ARI plays for a ``say``: ``POST /channels/{id}/play?media=<uri>[&lang=<lang>]``."""

    uri: str
    lang: str | None = None


def _binary() -> str | None:
    return shutil.which(settings.TELECOM_TTS_BINARY)


def available() -> bool:
    return _binary() is not None


@functools.lru_cache(maxsize=4)
def _voices(binary: str) -> dict[str, str]:
    """Language tag → espeak-ng voice, from ``--voices``: each voice's own language and the
    ones it also serves (``(en 2)``), the lowest priority number winning."""
    listing = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [binary, "--voices"], capture_output=True, timeout=settings.TELECOM_TTS_TIMEOUT_SECONDS, check=True
    ).stdout.decode(errors="replace")
    best: dict[str, tuple[int, str]] = {}
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or not fields[0].isdigit():
            continue
        priority, voice = int(fields[0]), fields[1].lower()
        candidates = [(voice, priority)]
        candidates += [(tag.lower(), int(rank)) for tag, rank in re.findall(r"\(([A-Za-z0-9-]+) (\d+)\)", line)]
        for tag, rank in candidates:
            if tag not in best or rank < best[tag][0]:
                best[tag] = (rank, voice)
    return {tag: voice for tag, (_rank, voice) in best.items()}


def voice_for(language: str | None) -> str:
    """The espeak-ng voice for a language tag (``en-US`` → ``en-us``, ``de-AT`` → ``de``);
    ``TtsError`` if there is none, ``TtsUnavailable`` without the engine."""
    language = (language or DEFAULT_LANGUAGE).strip()
    if not LANGUAGE_TAG.match(language):
        raise TtsError("A language tag like en, en-us or de.")
    binary = _binary()
    if binary is None:
        raise TtsUnavailable(f"{settings.TELECOM_TTS_BINARY} is not installed.")
    try:
        voices = _voices(binary)
    except (OSError, subprocess.SubprocessError) as error:
        raise TtsUnavailable(f"{ENGINE} did not list its voices: {type(error).__name__}.") from None
    parts = language.lower().split("-")
    for size in range(len(parts), 0, -1):
        voice = voices.get("-".join(parts[:size]))
        if voice:
            return voice
    raise TtsError(f"No voice for the language {language!r}.")


def language_known(language: str) -> bool | None:
    """Whether the engine speaks ``language``; ``None`` where the engine is not installed here."""
    try:
        voice_for(language)
    except TtsUnavailable:
        return None
    except TtsError:
        return False
    return True


def clean_text(text: str) -> str:
    """The text as it is spoken and hashed: control characters out, spaces trimmed, bounded."""
    if not isinstance(text, str):
        raise TtsError("The text to say must be a string.")
    cleaned = CONTROL.sub("", text).strip()
    if not cleaned:
        raise TtsError("There is nothing to say: the text is empty.")
    if len(cleaned) > MAX_TEXT_CHARACTERS:
        raise TtsError(f"At most {MAX_TEXT_CHARACTERS} characters can be said at once.")
    return cleaned


def digest_for(voice: str, text: str) -> str:
    material = json.dumps([ENGINE, OUTPUT_FORMAT, voice, text], ensure_ascii=False).encode()
    key = hashlib.sha256(b"fastsock.telecom.tts:" + settings.SECRET_KEY.encode()).digest()
    return hmac.new(key, material, hashlib.sha256).hexdigest()


def storage_name(digest: str) -> str:
    return f"{STORAGE_FOLDER}/{digest}.wav"


def synthesize(text: str, voice: str) -> bytes:
    """Speak ``text`` with ``voice``: an 8 kHz mono 16-bit WAV.

    The text goes to espeak-ng on stdin, never on the command line, so no text can pass for an
    option; no shell is involved; SSML and markup are off (espeak-ng's default without ``-m``).
    """
    binary = _binary()
    if binary is None:
        raise TtsUnavailable(f"{settings.TELECOM_TTS_BINARY} is not installed.")
    command = [binary, "-v", voice, "-b", "1", "--stdin", "--stdout"]
    try:
        result = subprocess.run(  # noqa: S603 - fixed arguments, no shell; the text goes on stdin
            command,
            input=text.encode(),
            capture_output=True,
            timeout=settings.TELECOM_TTS_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TtsUnavailable(f"{ENGINE} took longer than {settings.TELECOM_TTS_TIMEOUT_SECONDS} s.") from None
    except OSError as error:
        raise TtsUnavailable(f"{ENGINE} could not be started: {error.strerror}.") from None
    if result.returncode != 0:
        words = result.stderr.decode(errors="replace").strip()[:200]
        raise TtsUnavailable(f"{ENGINE} failed (exit {result.returncode}): {words}")
    try:
        return audio.to_telephone_wav(result.stdout)
    except audio.WavError as error:
        raise TtsUnavailable(f"{ENGINE} gave no usable audio: {error}.") from None


def render(text: str, language: str | None = None) -> str:
    """Make sure the speech for ``text`` is in storage; return its digest. A cached one is not
    rendered again."""
    text = clean_text(text)
    voice = voice_for(language)
    digest = digest_for(voice, text)
    name = storage_name(digest)
    if default_storage.exists(name):
        return digest
    wav = synthesize(text, voice)
    saved = default_storage.save(name, ContentFile(wav))
    if saved != name:
        # Another worker stored the same words meanwhile; the storage gave this copy another name.
        default_storage.delete(saved)
    logger.info("tts rendered", extra={"digest": digest, "voice": voice, "bytes": len(wav)})
    return digest


def audio_url(digest: str) -> str:
    """The absolute URL Asterisk fetches the rendered speech from."""
    return settings.PUBLIC_BASE_URL + reverse("telecom-tts", kwargs={"digest": digest})


def say_url(text: str, language: str | None = None) -> str:
    """``sound:<absolute URL>`` of the speech for ``text`` (rendered now if need be)."""
    return "sound:" + audio_url(render(text, language))


def media_for_say(text: str, language: str | None = None) -> SayMedia:
    """What ARI plays for ``{"say": {"text", "language"}}``.

    A text that is only a number or only digits is said by Asterisk itself (``number:`` or
    ``digits:``, with ``lang``) where ``TELECOM_ARI_SOUND_LANGUAGES`` says it has the sounds;
    anything else is rendered (or found in the cache) and played by URL.
    """
    cleaned = clean_text(text)
    primary = (language or DEFAULT_LANGUAGE).split("-")[0].lower()
    if primary in settings.TELECOM_ARI_SOUND_LANGUAGES:
        if NUMBER.match(cleaned):
            return SayMedia(f"number:{int(cleaned)}", primary)
        if DIGITS.match(cleaned):
            return SayMedia("digits:" + re.sub(r"[ -]", "", cleaned).lstrip("+"), primary)
    return SayMedia(say_url(cleaned, language))


def media_for_play(url: str) -> str:
    """What ARI plays for ``{"play": {"url"}}``: ``sound:`` names as they are, http(s) URLs
    through Asterisk's media cache (``sound:https://…``)."""
    return url if url.startswith("sound:") else "sound:" + url


def open_rendered(digest: str) -> File | None:
    """The stored speech with this digest, opened for reading; ``None`` if there is none."""
    if not DIGEST.match(digest or ""):
        return None
    name = storage_name(digest)
    try:
        return default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        return None

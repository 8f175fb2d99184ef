"""SMS text encoding: GSM 03.38 or UCS-2, and how many segments a body costs.

FastSock counts segments itself instead of trusting the gateway, because Jasmin slices long texts
naively and silently truncates past its part limit, and Kannel reports nothing at all. The rules
follow 3GPP TS 23.038 (the GSM 7-bit default alphabet and its extension table) and the
concatenation limits of TS 23.040: a 6-octet UDH leaves 153 septets or 67 UTF-16 code units per
part. Like Twilio's segment calculator, a character is never split across parts: neither an
escape + extension pair nor a UTF-16 surrogate pair.

Packing works on code points, not grapheme clusters: a flag or a skin-toned emoji may land in two
parts, as it does with SMSC-side splitting, but the count never undercounts what is sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

# Limits per message. A single SMS carries 140 octets of user data; a concatenated part spends
# 6 of them on the UDH (IEI 0x00 with an 8-bit reference), leaving 1072 bits.
GSM7_SINGLE: Final = 160
GSM7_PART: Final = 153
UCS2_SINGLE: Final = 70
UCS2_PART: Final = 67

# SMPP data_coding, as Jasmin's /send `coding` takes it: 0 = SMSC default alphabet, 8 = UCS-2
# (send the text as `hex-content`, UTF-16BE).
SMPP_DATA_CODING: Final[Mapping[Encoding, int]] = MappingProxyType({GSM7: 0, UCS2: 8})
# Kannel's sendsms numbers its codings differently: 0 = 7-bit, 1 = 8-bit, 2 = UCS-2.
KANNEL_CODING: Final[Mapping[Encoding, int]] = MappingProxyType({GSM7: 0, UCS2: 2})

GSM7_ESCAPE: Final = 0x1B

# The basic table of TS 23.038 §6.2.1, in code order 0x00-0x7F. Position 0x1B is the escape to
# the extension table, not a character, so it holds a placeholder that is never mapped.
# 0x09 is "Ç" (U+00C7) as the standard and the Unicode mapping (GSM0338.TXT) define it, even
# though the intent was probably "ç"; lower-case "ç" is therefore not GSM and forces UCS-2.
_BASIC_TABLE: Final = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x00ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_BASIC: Final[Mapping[str, int]] = MappingProxyType(
    {char: code for code, char in enumerate(_BASIC_TABLE) if code != GSM7_ESCAPE}
)
# The extension table (§6.2.1.1): each is sent as ESC + code, so it costs two septets.
GSM7_EXTENSION: Final[Mapping[str, int]] = MappingProxyType(
    {
        "\f": 0x0A,
        "^": 0x14,
        "{": 0x28,
        "}": 0x29,
        "\\": 0x2F,
        "[": 0x3C,
        "~": 0x3D,
        "]": 0x3E,
        "|": 0x40,
        "€": 0x65,
    }
)
_BASIC_BY_CODE: Final = {code: char for char, code in GSM7_BASIC.items()}
_EXTENSION_BY_CODE: Final = {code: char for char, code in GSM7_EXTENSION.items()}


class TooManySegments(ValueError):  # noqa: N818 -- named for the condition, like Django's TooManyFieldsSent
    """The body needs more parts than the gateway may send for one message."""

    def __init__(self, segments: int, max_segments: int) -> None:
        self.segments = segments
        self.max_segments = max_segments
        super().__init__(f"The message needs {segments} segments; at most {max_segments} are allowed.")


@dataclass(frozen=True, slots=True)
class SmsEncoding:
    """How a body goes on the air: its encoding, its size and what it costs in segments."""

    encoding: Encoding
    units: int  # septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2
    segments: int
    per_segment: int  # the limit of each part: 160/70 for a single message, 153/67 once concatenated
    characters: int  # code points

    @property
    def smpp_data_coding(self) -> int:
        """Return the SMPP data_coding (Jasmin's `coding`) for this encoding."""
        return SMPP_DATA_CODING[self.encoding]

    @property
    def kannel_coding(self) -> int:
        """Return Kannel's sendsms `coding` for this encoding."""
        return KANNEL_CODING[self.encoding]


def is_gsm7(body: str) -> bool:
    """Return whether every character of `body` is in the GSM basic or extension table."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in body)


def body_encoding(body: str) -> Encoding:
    """Return GSM-7 when the whole body fits the GSM alphabet, else UCS-2 (one character decides)."""
    return GSM7 if is_gsm7(body) else UCS2


def gsm7_septets(body: str) -> list[int]:
    """Return the unpacked GSM 7-bit codes of `body`, with ESC before each extension character.

    Raises ValueError naming the first character that has no GSM 03.38 code.
    """
    septets: list[int] = []
    for position, char in enumerate(body):
        if (code := GSM7_BASIC.get(char)) is not None:
            septets.append(code)
        elif (code := GSM7_EXTENSION.get(char)) is not None:
            septets.extend((GSM7_ESCAPE, code))
        else:
            raise ValueError(f"{char!r} (U+{ord(char):04X}) at position {position} is not in the GSM 03.38 alphabet.")
    return septets


def gsm7_decode(septets: list[int]) -> str:
    """Return the text of unpacked GSM 7-bit codes, the inverse of `gsm7_septets`."""
    chars: list[str] = []
    codes = iter(septets)
    for first in codes:
        # The escape consumes the next code, which is looked up in the extension table.
        code, table = (next(codes, None), _EXTENSION_BY_CODE) if first == GSM7_ESCAPE else (first, _BASIC_BY_CODE)
        if code not in table:
            raise ValueError(f"Invalid GSM 7-bit sequence at code {code!r}.")
        chars.append(table[code])
    return "".join(chars)


def ucs2_hex(body: str) -> str:
    """Return `body` as UTF-16BE hex, what Jasmin's `hex-content` expects with `coding=8`.

    Characters outside the BMP go out as surrogate pairs (UTF-16), which handsets accept as UCS-2.
    A lone surrogate cannot be sent and raises UnicodeEncodeError.
    """
    return body.encode("utf-16-be").hex()


def _unit_cost(char: str, encoding: Encoding) -> int:
    if encoding == GSM7:
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _part_bounds(body: str, encoding: Encoding) -> Iterator[tuple[int, int]]:
    """Yield (start, end) string indices of each part, packing greedily without splitting a character.

    Greedy filling is optimal here: parts hold consecutive characters, so taking as much as fits
    can never make a later part need to start earlier.
    """
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == GSM7 else (UCS2_SINGLE, UCS2_PART)
    costs = [_unit_cost(char, encoding) for char in body]
    if sum(costs) <= single:
        yield 0, len(body)
        return
    start, used = 0, 0
    for index, cost in enumerate(costs):
        if used + cost > part:
            yield start, index
            start, used = index, 0
        used += cost
    yield start, len(body)


def split_parts(body: str) -> list[str]:
    """Return the text of each part as it is sent; an empty body is one empty part."""
    encoding = body_encoding(body)
    return [body[start:end] for start, end in _part_bounds(body, encoding)]


def encode_info(body: str) -> SmsEncoding:
    """Return the encoding, size and segment count of `body`."""
    encoding = body_encoding(body)
    units = sum(_unit_cost(char, encoding) for char in body)
    segments = sum(1 for _ in _part_bounds(body, encoding))
    if encoding == GSM7:
        per_segment = GSM7_SINGLE if segments == 1 else GSM7_PART
    else:
        per_segment = UCS2_SINGLE if segments == 1 else UCS2_PART
    return SmsEncoding(encoding=encoding, units=units, segments=segments, per_segment=per_segment, characters=len(body))


def check_segments(info: SmsEncoding, *, max_segments: int) -> None:
    """Raise TooManySegments if `info` needs more parts than `max_segments`.

    Checked before sending because Jasmin truncates to its `long_content_max_parts` without error.
    """
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, not {max_segments}.")
    if info.segments > max_segments:
        raise TooManySegments(info.segments, max_segments)

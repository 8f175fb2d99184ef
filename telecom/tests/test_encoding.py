"""SMS encoding and segment counting (telecom.encoding); pure functions, no database."""

import math
import random

import pytest

from telecom.encoding import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    KANNEL_CODING,
    SMPP_DATA_CODING,
    SmsEncoding,
    TooManySegments,
    check_segments,
    encode_info,
    gsm7_decode,
    gsm7_septets,
    is_gsm7,
    split_parts,
    ucs2_hex,
)

# The 3GPP TS 23.038 default alphabet written out independently of the module, as code point →
# GSM code (the layout of the Unicode Consortium's GSM0338.TXT), so a typo in either shows up.
EXPECTED_BASIC = {
    "\u0040": 0x00, "\u00a3": 0x01, "\u0024": 0x02, "\u00a5": 0x03, "\u00e8": 0x04, "\u00e9": 0x05,
    "\u00f9": 0x06, "\u00ec": 0x07, "\u00f2": 0x08, "\u00c7": 0x09, "\u000a": 0x0A, "\u00d8": 0x0B,
    "\u00f8": 0x0C, "\u000d": 0x0D, "\u00c5": 0x0E, "\u00e5": 0x0F, "\u0394": 0x10, "\u005f": 0x11,
    "\u03a6": 0x12, "\u0393": 0x13, "\u039b": 0x14, "\u03a9": 0x15, "\u03a0": 0x16, "\u03a8": 0x17,
    "\u03a3": 0x18, "\u0398": 0x19, "\u039e": 0x1A, "\u00c6": 0x1C, "\u00e6": 0x1D, "\u00df": 0x1E,
    "\u00c9": 0x1F, "\u00a4": 0x24, "\u00a1": 0x40, "\u00c4": 0x5B, "\u00d6": 0x5C, "\u00d1": 0x5D,
    "\u00dc": 0x5E, "\u00a7": 0x5F, "\u00bf": 0x60, "\u00e4": 0x7B, "\u00f6": 0x7C, "\u00f1": 0x7D,
    "\u00fc": 0x7E, "\u00e0": 0x7F,
    # Printable ASCII that sits at its own code: space to "?" except "$" (0x24 is "¤"), the
    # capitals and the small letters.
    **{chr(code): code for code in range(0x20, 0x40) if code != 0x24},
    **{chr(code): code for code in range(0x41, 0x5B)},
    **{chr(code): code for code in range(0x61, 0x7B)},
}  # fmt: skip
EXPECTED_EXTENSION = {
    "\u000c": 0x0A, "\u005e": 0x14, "\u007b": 0x28, "\u007d": 0x29, "\u005c": 0x2F,
    "\u005b": 0x3C, "\u007e": 0x3D, "\u005d": 0x3E, "\u007c": 0x40, "\u20ac": 0x65,
}  # fmt: skip

GSM_CHARS = sorted(EXPECTED_BASIC)
EXTENSION_CHARS = sorted(EXPECTED_EXTENSION)


def reference_encoding(body: str) -> str:
    return "GSM-7" if all(c in EXPECTED_BASIC or c in EXPECTED_EXTENSION for c in body) else "UCS-2"


def reference_units(body: str) -> int:
    """Count units independently of the module: GSM by the tables above, else UTF-16 code units."""
    if reference_encoding(body) == "GSM-7":
        return sum(2 if c in EXPECTED_EXTENSION else 1 for c in body)
    return len(body.encode("utf-16-be")) // 2


def units_of(text: str, encoding: str) -> int:
    if encoding == "GSM-7":
        return len(gsm7_septets(text))
    return len(text.encode("utf-16-be")) // 2


# The tables


def test_basic_table_is_exactly_the_ts_23_038_default_alphabet():
    assert dict(GSM7_BASIC) == EXPECTED_BASIC
    assert len(GSM7_BASIC) == 127  # 128 codes minus the escape 0x1B


def test_extension_table_is_exactly_the_ten_escaped_characters():
    assert dict(GSM7_EXTENSION) == EXPECTED_EXTENSION


def test_escape_code_itself_is_not_a_sendable_character():
    assert not is_gsm7("\x1b")
    assert encode_info("\x1b").encoding == "UCS-2"


@pytest.mark.parametrize("char", GSM_CHARS + EXTENSION_CHARS)
def test_every_gsm_character_round_trips_as_gsm7(char):
    info = encode_info(char)

    assert info.encoding == "GSM-7"
    assert info.units == (2 if char in EXPECTED_EXTENSION else 1)
    assert gsm7_decode(gsm7_septets(char)) == char


def test_whole_alphabet_in_one_body_round_trips():
    body = "".join(GSM_CHARS + EXTENSION_CHARS)

    assert gsm7_decode(gsm7_septets(body)) == body
    assert encode_info(body).units == len(GSM_CHARS) + 2 * len(EXTENSION_CHARS)


def test_extension_character_is_sent_as_escape_then_code():
    assert gsm7_septets("a€[") == [0x61, 0x1B, 0x65, 0x1B, 0x3C]
    assert gsm7_septets("@$_") == [0x00, 0x02, 0x11]


def test_gsm7_septets_names_the_character_it_cannot_encode():
    with pytest.raises(ValueError, match=r"U\+00E7.*position 2"):
        gsm7_septets("ab\u00e7")


def test_gsm7_decode_rejects_a_dangling_escape():
    with pytest.raises(ValueError, match="Invalid GSM"):
        gsm7_decode([0x61, 0x1B])


# Choosing the encoding


def test_capital_c_cedilla_is_gsm_but_small_c_cedilla_is_not():
    # TS 23.038 puts "Ç" (U+00C7) at 0x09; there is no code for "ç".
    assert encode_info("Ça va").encoding == "GSM-7"
    assert encode_info("\u00e7a va").encoding == "UCS-2"


@pytest.mark.parametrize(
    "char",
    [
        "\u00e7",  # ç
        "\u00e1",  # á
        "\u4e2d",  # 中
        "\u2019",  # right single quotation mark, what phones type for an apostrophe
        "`",  # grave accent: ASCII, but not in GSM
        "\t",  # tab: ASCII control, not in GSM
        "\u0391",  # Greek capital alpha, looks like "A" but GSM has only the non-Latin-looking capitals
        "\u00c0",  # À: only the small "à" is in GSM
        "\U0001f600",  # 😀
    ],
)
def test_one_non_gsm_character_makes_the_whole_body_ucs2(char):
    body = "Hello there, see you at 8 " + char

    info = encode_info(body)

    assert info.encoding == "UCS-2"
    # Even the GSM characters now cost a full UTF-16 unit each.
    assert info.units == len(body.encode("utf-16-be")) // 2


# Counting


def test_empty_body_is_one_empty_gsm7_segment():
    assert encode_info("") == SmsEncoding(encoding="GSM-7", units=0, segments=1, per_segment=160, characters=0)
    assert split_parts("") == [""]


def test_whitespace_only_body_is_fine():
    info = encode_info("   ")

    assert (info.encoding, info.units, info.segments) == ("GSM-7", 3, 1)


def test_crlf_counts_two_septets():
    assert encode_info("\r\n").units == 2


@pytest.mark.parametrize(
    ("body", "segments", "per_segment"),
    [
        ("a" * 160, 1, 160),
        ("a" * 161, 2, 153),
        ("a" * 306, 2, 153),
        ("a" * 307, 3, 153),
        ("a" * 459, 3, 153),
        ("a" * 460, 4, 153),
        ("\u0436" * 70, 1, 70),  # ж
        ("\u0436" * 71, 2, 67),
        ("\u0436" * 134, 2, 67),
        ("\u0436" * 135, 3, 67),
    ],
)
def test_segment_boundaries(body, segments, per_segment):
    info = encode_info(body)

    assert (info.segments, info.per_segment, info.units, info.characters) == (
        segments,
        per_segment,
        len(body),
        len(body),
    )
    assert len(split_parts(body)) == segments


def test_euro_sign_costs_two_septets():
    assert encode_info("€" * 80).units == 160
    assert encode_info("€" * 80).segments == 1
    assert encode_info("€" * 81).units == 162
    assert encode_info("€" * 81).segments == 2


def test_extension_character_past_the_single_limit_makes_two_segments():
    # 159 characters, but 160 + 1 septets: a character count would say one segment.
    assert encode_info("a" * 159 + "€").segments == 2
    assert encode_info("a" * 158 + "€").segments == 1


def test_escape_pair_is_never_split_so_packing_needs_one_more_part_than_division():
    body = "a" * 152 + "€" + "a" * 152  # 306 septets: ceil(306 / 153) would say 2

    info = encode_info(body)

    assert info.units == 306
    assert math.ceil(info.units / 153) == 2
    assert info.segments == 3
    assert split_parts(body) == ["a" * 152, "€" + "a" * 151, "a"]


def test_escape_pair_that_ends_a_part_exactly_needs_no_extra_part():
    body = "a" * 151 + "€" + "a" * 153  # the pair fills septets 152-153 of the first part

    assert encode_info(body).segments == 2
    assert split_parts(body) == ["a" * 151 + "€", "a" * 153]


def test_single_message_allowance_is_used_before_dividing_by_the_part_size():
    # 160 septets: dividing by the 153-septet part size would say 2.
    assert encode_info("a" * 158 + "€").segments == 1
    assert encode_info("\u0436" * 70).segments == 1


def test_emoji_costs_two_utf16_units():
    info = encode_info("\U0001f600")

    assert (info.encoding, info.units, info.characters) == ("UCS-2", 2, 1)
    assert encode_info("\U0001f600" * 35).segments == 1  # 70 units
    assert encode_info("\U0001f600" * 35 + "a").segments == 2  # 71 units


def test_surrogate_pair_is_never_split_so_packing_needs_one_more_part_than_division():
    body = "a" * 66 + "\U0001f600" + "a" * 66  # 134 units: ceil(134 / 67) would say 2

    info = encode_info(body)
    parts = split_parts(body)

    assert info.units == 134
    assert info.segments == 3
    assert parts == ["a" * 66, "\U0001f600" + "a" * 65, "a"]
    for part in parts:
        part.encode("utf-16-be")  # a half pair would raise UnicodeEncodeError


def test_characters_counts_code_points():
    assert encode_info("h\u00e9llo \U0001f600").characters == 7


# The gateway's part limit


def test_too_many_segments_names_the_count_and_the_limit():
    info = encode_info("a" * 800)  # 6 parts of 153

    with pytest.raises(TooManySegments, match=r"\b6\b.*\b5\b") as raised:
        check_segments(info, max_segments=5)

    assert (raised.value.segments, raised.value.max_segments) == (6, 5)
    assert isinstance(raised.value, ValueError)


def test_body_at_the_segment_limit_is_accepted():
    check_segments(encode_info("a" * 765), max_segments=5)


def test_segment_limit_below_one_is_a_programming_error():
    with pytest.raises(ValueError, match="at least 1"):
        check_segments(encode_info("hi"), max_segments=0)


# What the gateways are given


def test_ucs2_hex_is_utf16be_as_in_jasmins_hex_content_example():
    assert ucs2_hex("\u0623\u0631\u0646\u0628") == "0623063106460628"


def test_ucs2_hex_sends_emoji_as_a_surrogate_pair():
    assert ucs2_hex("\U0001f600") == "d83dde00"


def test_data_coding_values_for_jasmin_and_kannel():
    assert dict(SMPP_DATA_CODING) == {"GSM-7": 0, "UCS-2": 8}
    assert dict(KANNEL_CODING) == {"GSM-7": 0, "UCS-2": 2}
    assert encode_info("hi").smpp_data_coding == 0
    assert encode_info("\u4e2d").smpp_data_coding == 8
    assert encode_info("\u4e2d").kannel_coding == 2


# Properties over random bodies


def random_bodies(count: int = 400) -> list[str]:
    rng = random.Random(20260601)
    alphabets = [
        GSM_CHARS,
        GSM_CHARS + EXTENSION_CHARS * 8,  # many escape pairs, so boundaries land on them
        [*GSM_CHARS, "\u00e7", "\u4e2d", "\u0436"],
        ["a", "\u0436", "\U0001f600", "\U0001f44d", "\u20ac"],  # many surrogate pairs
    ]
    bodies = []
    for _ in range(count):
        alphabet = rng.choice(alphabets)
        length = rng.choice([rng.randint(0, 80), rng.randint(60, 170), rng.randint(140, 700)])
        bodies.append("".join(rng.choice(alphabet) for _ in range(length)))
    return bodies


@pytest.mark.parametrize("body", random_bodies())
def test_split_parts_agrees_with_encode_info_and_packs_each_part_fully(body):
    info = encode_info(body)
    parts = split_parts(body)

    assert "".join(parts) == body
    assert len(parts) == info.segments
    assert info.encoding == reference_encoding(body)
    assert info.units == reference_units(body)
    single, part_limit = (160, 153) if info.encoding == "GSM-7" else (70, 67)
    assert info.per_segment == (single if info.units <= single else part_limit)
    assert info.segments >= max(1, math.ceil(info.units / info.per_segment))
    for index, part in enumerate(parts):
        assert units_of(part, info.encoding) <= info.per_segment
        if index + 1 < len(parts):
            # Greedy packing: a part closes only when the next character does not fit.
            next_char = parts[index + 1][0]
            assert units_of(part + next_char, info.encoding) > info.per_segment

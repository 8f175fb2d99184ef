"""MMS on SMS-only gateways: which media links a message may carry, and the text that goes out.

Jasmin and Kannel carry SMS only, so an outbound MMS goes as an SMS with each medium's link on
a line of its own after the text (what carriers call "MMS converted to SMS with links"): no
medium is dropped, and the recipient's phone shows the links. Encoding and segments are counted
on that text when the message is accepted, so the API's answer and the usage are what is sent.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from fastsock.core.errors import ApiError, ErrorCode

MAX_MEDIA_URLS = 10
MAX_MEDIA_URL_LENGTH = 500
# RFC 3986 characters only: nothing a phone would cut the link at (spaces, quotes, <>), nothing
# outside the GSM alphabet (the backtick), so a link never turns a GSM-7 text into UCS-2.
_URL_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")


def _media_error(message: str) -> ApiError:
    return ApiError(ErrorCode.INVALID, "Invalid input: media_urls.", details={"media_urls": [message]})


def media_urls_check(value: Any) -> list[str]:
    """The outbound ``media_urls`` of an API request, or a 400 naming what is wrong.

    At most :data:`MAX_MEDIA_URLS` absolute http(s) URLs of at most
    :data:`MAX_MEDIA_URL_LENGTH` characters each; no user name or password in them, as they are
    sent in the clear inside the text.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise _media_error(f"A list of at most {MAX_MEDIA_URLS} http(s) URLs.")
    if len(value) > MAX_MEDIA_URLS:
        raise _media_error(f"At most {MAX_MEDIA_URLS} media URLs, not {len(value)}.")
    for position, url in enumerate(value):
        problem = _url_problem(url)
        if problem:
            raise _media_error(f"Item {position}: {problem}")
    return list(value)


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str):
        return "must be a string."
    if len(url) > MAX_MEDIA_URL_LENGTH:
        return f"at most {MAX_MEDIA_URL_LENGTH} characters."
    if not _URL_CHARACTERS.match(url):
        return "not a URL: spaces, quotes and non-ASCII characters must be percent-encoded."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "not a valid URL."
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "an absolute http or https URL."
    if parts.username is not None or parts.password is not None:
        return "a URL with a user name or password is not accepted; it would be sent in the clear."
    return None


def text_with_links(body: str, media_urls: list[str] | tuple[str, ...]) -> str:
    """What an SMS-only gateway sends for a message with media: the body, then each link on a
    line of its own (the body alone when there are no media)."""
    if not media_urls:
        return body
    return "\n".join([body, *media_urls] if body else media_urls)

"""Headless Chromium (Debian's, driven by Playwright) for browser tests."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastsock.core.testing import skip_or_fail, system_parts_required

CHROMIUM = "/usr/bin/chromium"
# The machine's network is closed: keep Chromium from calling home at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        skip_or_fail("needs Chromium (apt-get install chromium)", required=system_parts_required())
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("needs Playwright for Python (pip install playwright)", required=system_parts_required())


# Calls: a fake camera and microphone that need no permission prompt, and ICE candidates on
# loopback with their real addresses (not mDNS names), so two pages on one machine connect.
CALL_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


@contextlib.contextmanager
def chromium_browser(*, extra_args: tuple[str, ...] | list[str] = ()) -> Iterator[Any]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args]
        )
        try:
            yield browser
        finally:
            browser.close()


def artifacts_dir() -> Path:
    """Where browser tests leave their screenshots (``FASTSOCK_ARTIFACTS``, else ``artifacts/``)."""
    import os

    root = Path(os.environ.get("FASTSOCK_ARTIFACTS") or Path(__file__).resolve().parent.parent / "artifacts")
    folder = root / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=path, full_page=full_page)
    return path

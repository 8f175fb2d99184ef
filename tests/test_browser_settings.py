"""A person changes their photo and display name on the settings page, in a real Chromium against a real Daphne."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from tests.browser import chromium_browser, screenshot
from tests.servers import daphne_server

pytestmark = pytest.mark.system

SERVER_AVATAR = re.compile(r"/api/v1/users/\d+/avatar\?v=\w+$")


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser):
    with daphne_server(tmp_path_factory.mktemp("browser")) as running:
        running.demo = json.loads(running.manage("seed_demo", "--allow-production").strip())
        yield running


def _new_page(browser, server, **options):
    context = browser.new_context(base_url=server.base_url, **options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return context, page


@pytest.fixture
def page(browser, server):
    context, page = _new_page(browser, server, viewport={"width": 1280, "height": 800})
    yield page
    context.close()


@pytest.fixture
def phone(browser, server):
    """A phone-sized page in dark mode."""
    context, page = _new_page(
        browser, server, viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True, has_touch=True
    )
    yield page
    context.close()


def _log_in_to_settings(page, server, username):
    page.goto("/settings/")
    page.wait_for_url(re.compile(r"/login/\?next=/settings/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(server.demo["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Settings").wait_for()


def _portrait(path):
    """A small PNG with a gradient, so a preview that shows it is easy to see in a screenshot."""
    image = Image.new("RGB", (320, 240))
    image.putdata([(120 + x // 4, 60 + y // 3, 200 - x // 4) for y in range(240) for x in range(320)])
    image.save(path, "PNG")
    return path


def test_a_person_previews_and_uploads_a_photo_then_renames_themselves(page, server, tmp_path):
    from playwright.sync_api import expect

    _log_in_to_settings(page, server, "alice")
    avatar = page.locator("img[data-avatar]")
    before = avatar.get_attribute("src")

    page.get_by_label("Choose a photo").set_input_files(_portrait(tmp_path / "portrait.png"))
    preview = page.get_by_role("img", name="Preview of the chosen photo")
    expect(preview).to_be_visible()
    expect(preview).to_have_attribute("src", re.compile(r"^blob:"))
    page.get_by_text("portrait.png").wait_for()

    page.get_by_role("button", name="Upload photo").click()
    expect(page.get_by_role("status").filter(has_text="Your new photo is saved.")).to_be_visible()
    expect(preview).to_be_hidden()
    expect(avatar).to_be_visible()
    expect(avatar).to_have_attribute("src", SERVER_AVATAR)
    assert avatar.get_attribute("src") != before
    # The server's re-encoded square, fetched with the session: loaded, not a broken image.
    page.wait_for_function("image => image.complete && image.naturalWidth === 256", arg=avatar.element_handle())
    expect(page.get_by_label("Change photo")).to_be_attached()

    page.get_by_label("Display name").fill("Alice in Wonderland")
    page.get_by_label("Status message").fill("Late for a very important date")
    page.get_by_role("button", name="Save profile").click()
    page.get_by_role("status").filter(has_text="Your profile is saved.").wait_for()
    expect(page.get_by_label("Display name")).to_have_value("Alice in Wonderland")
    # The photo is the server's after a reload too.
    expect(avatar).to_have_attribute("src", SERVER_AVATAR)
    screenshot(page, "settings", full_page=True)

    page.get_by_role("link", name="Back to chat").click()
    page.get_by_role("heading", name=re.compile("Hi Alice in Wonderland")).wait_for()


def test_an_upload_the_server_refuses_is_explained_next_to_the_picker(phone, server, tmp_path):
    from playwright.sync_api import expect

    _log_in_to_settings(phone, server, "bob")
    # A proxy-sized limit is hard to reach on loopback: answer as the API does for a file too large.
    refusal = {"error": {"code": "too_large", "message": "The file is larger than the limit of 25 MiB.", "details": {}}}
    phone.route(
        "**/api/v1/users/me/avatar",
        lambda route: route.fulfill(status=413, content_type="application/json", body=json.dumps(refusal)),
    )
    phone.get_by_label("Choose a photo").set_input_files(_portrait(tmp_path / "big.png"))
    phone.get_by_role("button", name="Upload photo").click()
    expect(phone.get_by_role("alert")).to_have_text("The file is larger than the limit of 25 MiB.")
    expect(phone.locator("img[data-avatar]")).to_be_hidden()
    expect(phone.get_by_role("button", name="Upload photo")).to_be_enabled()
    screenshot(phone, "settings-phone-dark", full_page=True)

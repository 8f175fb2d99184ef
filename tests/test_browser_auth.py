"""A person logs in, registers and logs out in a real Chromium against a real Daphne."""

from __future__ import annotations

import json
import re

import pytest

from tests.browser import chromium_browser, screenshot
from tests.servers import daphne_server

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser):
    with daphne_server(tmp_path_factory.mktemp("browser")) as running:
        running.demo = json.loads(running.manage("seed_demo", "--allow-production").strip())
        yield running


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_a_demo_user_logs_in_and_sees_the_demo_rooms(page, server):
    page.goto("/")
    page.wait_for_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(server.demo["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name=re.compile("Hi Alice")).wait_for()
    rooms = page.get_by_role("navigation", name="Rooms")
    rooms.get_by_text("Demo team", exact=True).wait_for()
    rooms.get_by_text("Bob Builder", exact=True).wait_for()
    screenshot(page, "chat-home")


def test_a_wrong_password_is_explained_on_the_page(page):
    page.goto("/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").filter(has_text="correct username and password").wait_for()
    assert page.url.endswith("/login/")


def test_registration_shows_problems_inline_then_succeeds(page):
    page.goto("/register/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill("password123")
    page.get_by_label("Repeat password").fill("password123")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("This username is taken.").wait_for()
    page.get_by_text("This password is too common.").wait_for()

    page.get_by_label("Username").fill("gwen")
    page.get_by_label("Display name").fill("Gwen Stacy")
    page.get_by_label("Password", exact=True).fill("spider-sense-tingling")
    page.get_by_label("Repeat password").fill("spider-sense-tingling")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name=re.compile("Hi Gwen Stacy")).wait_for()


def test_logging_out_asks_first_and_then_ends_the_session(page, server):
    page.goto("/login/")
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(server.demo["password"])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Log out").click()
    page.get_by_role("heading", name="Log out?").wait_for()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login/$"))
    page.goto("/")
    page.wait_for_url(re.compile(r"/login/\?next=/$"))

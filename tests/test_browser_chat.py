"""Two people chat in two real Chromium contexts against a real Daphne: every live path of the web chat."""

from __future__ import annotations

import json
import random
import re
import secrets

import pytest
from PIL import Image

from fastsock.core.testing import stop_process
from tests.browser import chromium_browser, screenshot
from tests.servers import daphne_server, serve_again

pytestmark = pytest.mark.system

DESKTOP = {"width": 1280, "height": 800}
SLOW_UPLINK = {"offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 256 * 1024}


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory, browser):
    with daphne_server(tmp_path_factory.mktemp("chat")) as running:
        running.demo = json.loads(running.manage("seed_demo", "--allow-production").strip())
        yield running


class People:
    """Logged-in pages, each in a browser context of its own (its own cookies: another person)."""

    def __init__(self, browser, server):
        self.browser, self.server, self.contexts = browser, server, []

    def log_in(self, username, *, permissions=(), **options):
        # Through the log-in form once per person and server; later pages reuse the session
        # (the log-in form is rate limited per address, as it should be).
        sessions = self.server.__dict__.setdefault("sessions", {})
        options = {"viewport": DESKTOP, **options}
        if username in sessions:
            options["storage_state"] = sessions[username]
        context = self.browser.new_context(base_url=self.server.base_url, **options)
        if permissions:
            context.grant_permissions(list(permissions), origin=self.server.base_url)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        if username in sessions:
            page.goto("/")
        else:
            page.goto("/login/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(self.server.demo["password"])
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(lambda url: url.endswith("/") and "/login/" not in url)
            sessions[username] = context.storage_state()
        page.wait_for_function("() => window.fastsock && window.fastsock.socket.open")
        return page

    def close(self):
        for context in self.contexts:
            for page in context.pages:
                assert page.errors == [], f"JavaScript errors on the page: {page.errors}"
            context.close()


@pytest.fixture
def people(browser, server):
    crowd = People(browser, server)
    yield crowd
    crowd.close()


def open_room(page, room_id):
    page.locator(f'#room-list a.room[data-room-id="{room_id}"]').click()
    page.wait_for_url(re.compile(rf"/r/{room_id}/$"))
    page.wait_for_function(f"() => window.fastsock.views.get({room_id})?.loaded")


def send(page, text):
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_label("Message", exact=True).press("Enter")


def bubble(page, text):
    return page.locator("#messages li.message", has_text=text)


def unique(word):
    return f"{word}-{secrets.token_hex(3)}"


def run_django(server, code):
    """Run Python against the server's own database (as another process would)."""
    return server.manage("shell", "-c", code)


def test_a_message_goes_out_and_its_ticks_reach_read(people, server):
    direct = server.demo["direct_room"]
    alice = people.log_in("alice")
    bob = people.log_in("bob")  # on the room list: receives, but has not read
    open_room(alice, direct)
    text = unique("hello")
    send(alice, text)
    bubble(bob, text).wait_for(state="detached")  # not open on Bob's side yet
    ticks = bubble(alice, text).locator(".ticks")
    ticks.and_(alice.locator('[data-state="delivered"]')).wait_for()
    bob.locator(f'#room-list a.room[data-room-id="{direct}"] .badge').wait_for()
    assert re.match(r"^\(\d+\) ", bob.title()), bob.title()
    open_room(bob, direct)
    bubble(bob, text).wait_for()
    bob.get_by_role("separator").filter(has_text="New messages").wait_for()
    ticks.and_(alice.locator('[data-state="read"]')).wait_for()
    alice.get_by_text("Seen by Bob Builder").wait_for()
    bob.locator(f'#room-list a.room[data-room-id="{direct}"] .badge').wait_for(state="detached")
    screenshot(alice, "chat-direct-read")


def test_typing_shows_on_the_other_side_and_clears(people, server):
    direct = server.demo["direct_room"]
    alice, bob = people.log_in("alice"), people.log_in("bob")
    open_room(alice, direct)
    open_room(bob, direct)
    alice.get_by_label("Message", exact=True).press_sequentially("I am thinking")
    bob.get_by_text("Alice Liddell is typing…").wait_for()
    screenshot(bob, "chat-typing")
    alice.get_by_label("Message", exact=True).fill("")
    alice.get_by_label("Message", exact=True).press("Backspace")  # an emptied box means stopped
    bob.get_by_text("Alice Liddell is typing…").wait_for(state="detached")
    alice.get_by_label("Message", exact=True).press_sequentially("and now I send")
    bob.get_by_text("Alice Liddell is typing…").wait_for()
    alice.get_by_label("Message", exact=True).press("Enter")
    bob.get_by_text("Alice Liddell is typing…").wait_for(state="detached")
    bubble(bob, "and now I send").last.wait_for()


def test_edits_deletes_and_reactions_reach_the_other_side(people, server):
    group = server.demo["group_room"]
    alice, bob = people.log_in("alice"), people.log_in("bob")
    open_room(alice, group)
    open_room(bob, group)
    text = unique("draft")
    send(alice, text)
    bubble(bob, text).wait_for()

    mine = bubble(alice, text)
    mine.hover()
    mine.get_by_role("button", name="Message actions").click()
    alice.get_by_role("menuitem", name="Edit").click()
    edited = unique("final")
    alice.get_by_label("Edit message").fill(edited)
    alice.get_by_label("Edit message").press("Enter")
    bubble(bob, edited).get_by_text("edited").wait_for()
    assert bubble(bob, text).count() == 0

    theirs = bubble(bob, edited)
    theirs.hover()
    theirs.get_by_role("button", name="Add reaction").click()
    bob.get_by_role("menuitem", name="React with 🎉").click()
    reaction = bubble(alice, edited).locator(".reaction", has_text="🎉 1")
    reaction.wait_for()
    assert reaction.get_attribute("title") == "Bob Builder reacted with 🎉"
    screenshot(alice, "chat-group-reaction")

    mine = bubble(alice, edited)
    mine.click(button="right")
    alice.get_by_role("menuitem", name="Delete").click()
    bob.locator("#messages li.message.deleted", has_text="This message was deleted.").last.wait_for()
    assert bubble(bob, edited).count() == 0


def test_an_edit_the_server_refuses_is_rolled_back_with_an_error(people, server):
    group = server.demo["group_room"]
    alice = people.log_in("alice")
    open_room(alice, group)
    text = unique("keep")
    send(alice, text)
    bubble(alice, text).locator('.ticks[data-state]:not([data-state="sending"])').wait_for()
    alice.route("**/api/v1/messages/*", lambda route: route.fulfill(
        status=403, content_type="application/json",
        body=json.dumps({"error": {"code": "forbidden", "message": "Only the author may edit.", "details": {}}}),
    ) if route.request.method == "PATCH" else route.continue_())  # fmt: skip
    bubble(alice, text).click(button="right")
    alice.get_by_role("menuitem", name="Edit").click()
    alice.get_by_label("Edit message").fill("changed my mind")
    alice.get_by_label("Edit message").press("Enter")
    alice.get_by_role("alert").filter(has_text="Only the author may edit.").wait_for()
    bubble(alice, text).wait_for()
    assert bubble(alice, "changed my mind").count() == 0


def test_an_image_upload_shows_progress_then_a_preview_on_both_sides(people, server, tmp_path):
    direct = server.demo["direct_room"]
    alice, bob = people.log_in("alice"), people.log_in("bob")
    open_room(alice, direct)
    open_room(bob, direct)
    noise = Image.frombytes("RGB", (700, 700), random.Random(7).randbytes(700 * 700 * 3))
    path = tmp_path / "holiday.png"
    noise.save(path)
    # A slow uplink, so that the progress bar is there to be seen.
    cdp = alice.context.new_cdp_session(alice)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_UPLINK)
    alice.locator("#file-input").set_input_files(path)
    card = alice.locator(".upload", has_text="holiday.png")
    card.locator("progress").wait_for()
    alice.wait_for_function("() => { const bar = document.querySelector('.upload progress'); return bar?.value > 0; }")
    screenshot(alice, "chat-upload-progress")
    cdp.send("Network.emulateNetworkConditions", {**SLOW_UPLINK, "latency": 0, "uploadThroughput": -1})
    thumb = bob.locator("#messages img.thumb[alt='holiday.png']")
    thumb.wait_for()
    bob.wait_for_function("() => [...document.querySelectorAll('img.thumb')].some((img) => img.naturalWidth > 0)")
    card.wait_for(state="detached")
    thumb.click()
    bob.locator("#lightbox[open] img").wait_for()
    screenshot(bob, "chat-lightbox")
    bob.get_by_role("button", name="Close image").click()


def test_a_file_too_large_is_refused_before_uploading(people, server, tmp_path):
    alice = people.log_in("alice")
    open_room(alice, server.demo["group_room"])
    big = tmp_path / "huge.bin"
    with big.open("wb") as handle:
        handle.truncate(26 * 1024 * 1024)
    alice.locator("#file-input").set_input_files(big)
    alice.locator(".upload.failed", has_text="Too large").wait_for()


def test_scrolling_up_loads_older_history_and_keeps_the_place(people, server):
    marker = unique("history")
    room_id = int(run_django(server, f"""
from accounts.models import User
from chat import services, selectors
alice, bob = User.objects.get(username="alice"), User.objects.get(username="bob")
room = services.room_create_group(creator=alice, name="{marker}", member_ids=[bob.pk])
membership = selectors.membership_for(room_id=room.pk, user=alice)
for number in range(1, 131):
    services.message_send(membership=membership, content=f"{marker} number {{number}}")
print(room.pk)
""").strip().splitlines()[-1])  # fmt: skip
    alice = people.log_in("alice")  # wrote them all: nothing unread, the room opens at the end
    open_room(alice, room_id)
    alice.get_by_text(f"{marker} number 130", exact=True).wait_for()
    assert alice.locator("#messages li.message").count() == 50
    anchor = alice.get_by_text(f"{marker} number 81", exact=True)
    alice.locator("#timeline").evaluate("(timeline) => { timeline.scrollTop = 0; }")
    alice.wait_for_function("() => document.querySelectorAll('#messages li.message').length === 100")
    # The message that was at the top is still in view: the page did not jump to the oldest.
    assert anchor.is_visible()
    alice.locator("#timeline").evaluate("(timeline) => { timeline.scrollTop = 0; }")
    alice.get_by_text(f"{marker} number 1", exact=True).wait_for()
    assert alice.locator("#messages li.message").count() == 130
    alice.get_by_role("button", name="↓ Jump to latest").click()
    alice.get_by_text(f"{marker} number 130", exact=True).wait_for()


def test_a_notification_fires_when_the_tab_is_not_focused(people, server):
    direct = server.demo["direct_room"]
    alice = people.log_in("alice", permissions=["notifications"])
    # Headless Chromium has no window focus to lose: the page is told it has none, and every
    # notification it creates is recorded (and still created).
    alice.add_init_script("""
        window.__notifications = [];
        document.hasFocus = () => !window.__unfocused;
        const Real = window.Notification;
        window.Notification = class extends Real {
            constructor(title, options) {
                super(title, options);
                window.__notifications.push({ title, body: options.body });
            }
        };
        window.Notification.requestPermission = Real.requestPermission.bind(Real);
        Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
    """)
    alice.reload()
    alice.wait_for_function("() => window.fastsock.socket.open")
    open_room(alice, direct)
    alice.evaluate("() => { window.__unfocused = true; }")
    bob = people.log_in("bob")
    open_room(bob, direct)
    text = unique("psst")
    send(bob, text)
    alice.wait_for_function("(text) => window.__notifications.some((n) => n.body === text)", arg=text)
    assert alice.evaluate("() => window.__notifications.at(-1).title") == "Bob Builder"
    alice.wait_for_function("() => /^\\(\\d+\\) /.test(document.title)")


def test_the_notification_question_is_asked_in_the_page_not_by_surprise(people):
    alice = people.log_in("alice")
    banner = alice.locator("#notify-banner")
    banner.wait_for()
    alice.get_by_role("button", name="Not now").click()
    banner.wait_for(state="hidden")
    alice.reload()
    alice.wait_for_function("() => window.fastsock.socket.open")
    assert banner.is_hidden()


def test_a_group_is_created_in_the_modal_with_inline_errors(people, server):
    alice = people.log_in("alice")
    carol = people.log_in("carol")
    alice.get_by_role("button", name="+ New group").click()
    dialog = alice.get_by_role("dialog", name="New group")
    dialog.get_by_role("button", name="Create group").click()
    dialog.get_by_text("Give the group a name.").wait_for()
    dialog.get_by_text("Add at least one person.").wait_for()
    name = unique("Trip")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Add people").press_sequentially("car")
    dialog.get_by_role("option", name=re.compile("Carol Danvers")).click()
    dialog.locator(".chip", has_text="Carol Danvers").wait_for()
    screenshot(alice, "chat-new-group")
    dialog.get_by_role("button", name="Create group with 1 person").click()
    alice.get_by_role("heading", name=name).wait_for()
    carol.get_by_role("navigation", name="Rooms").get_by_text(name, exact=True).wait_for()
    alice.get_by_role("button", name="Room info").click()
    alice.get_by_role("complementary", name="Room info").get_by_text("Carol Danvers").wait_for()
    screenshot(alice, "chat-room-info")


def test_search_finds_a_message_and_opens_the_room_at_it(people, server):
    group = server.demo["group_room"]
    alice = people.log_in("alice")
    open_room(alice, group)
    word = f"zebra{secrets.token_hex(3)}"
    send(alice, f"the {word} crossed the road")
    bubble(alice, word).locator('.ticks[data-state]:not([data-state="sending"])').wait_for()
    alice.goto("/")
    alice.wait_for_function("() => window.fastsock.socket.open")
    open_room(alice, server.demo["direct_room"])
    alice.get_by_label("Search messages").fill(word)
    alice.get_by_label("Search messages").press("Enter")
    hit = alice.locator(".search-hit", has=alice.locator("mark", has_text=word))
    hit.wait_for()
    screenshot(alice, "chat-search")
    hit.click()
    alice.wait_for_url(re.compile(rf"/r/{group}/$"))
    bubble(alice, word).wait_for()


def test_a_phone_sized_dark_page_shows_one_pane_at_a_time(people, server):
    alice = people.log_in("alice", viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True)
    rooms = alice.get_by_role("navigation", name="Rooms")
    assert rooms.is_visible()
    screenshot(alice, "chat-phone-rooms")
    open_room(alice, server.demo["group_room"])
    assert not rooms.is_visible()
    send(alice, unique("from my phone"))
    screenshot(alice, "chat-phone-room")
    alice.get_by_role("button", name="Back to conversations").click()
    rooms.wait_for()


@pytest.fixture
def own_server(tmp_path, browser):
    """A server of this test's own, to stop and start again."""
    with daphne_server(tmp_path) as running:
        running.demo = json.loads(running.manage("seed_demo", "--allow-production").strip())
        yield running


def test_a_server_restart_shows_the_reconnect_state_then_catches_up_with_nothing_lost_or_twice(browser, own_server):
    people = People(browser, own_server)
    direct = own_server.demo["direct_room"]
    alice, bob = people.log_in("alice"), people.log_in("bob")
    open_room(alice, direct)
    open_room(bob, direct)
    before = unique("before")
    send(bob, before)
    bubble(alice, before).wait_for()

    stop_process(own_server.process)
    banner = alice.get_by_role("status").filter(has_text="Disconnected — reconnecting in")
    banner.wait_for()
    screenshot(alice, "chat-reconnecting")
    attempts = alice.evaluate("() => window.fastsock.socket.attempt")
    alice.get_by_role("button", name="Retry now").click()  # tries at once, fails, waits longer
    alice.wait_for_function("(before) => window.fastsock.socket.attempt > before", arg=attempts)
    queued = unique("queued")
    send(bob, queued)  # the socket is down: the send waits in the queue, shown as sending
    bubble(bob, queued).locator('.ticks[data-state="sending"]').wait_for()
    # Someone writes while the server is down (another process on the same database): the
    # pages must get it from the resume, not from a live event.
    while_away = unique("while-away")
    run_django(own_server, f"""
from accounts.models import User
from chat import services, selectors
membership = selectors.membership_for(room_id={direct}, user=User.objects.get(username="bob"))
services.message_send(membership=membership, content="{while_away}")
""")  # fmt: skip

    with serve_again(own_server, same_port=True):
        banner.wait_for(state="hidden", timeout=45_000)
        bob.get_by_role("status").filter(has_text="Disconnected").wait_for(state="hidden", timeout=45_000)
        bubble(alice, while_away).wait_for()
        bubble(alice, queued).wait_for()
        bubble(bob, queued).locator('.ticks:not([data-state="sending"])').wait_for()
        after = unique("after")
        send(alice, after)
        bubble(bob, after).wait_for()
        for page in (alice, bob):
            for text in (before, queued, while_away, after):
                assert bubble(page, text).count() == 1, (text, page.url)
        people.close()


def test_a_refused_send_is_marked_failed_and_goes_through_on_retry(people, server):
    direct = server.demo["direct_room"]
    alice = people.log_in("alice")
    refused = []

    def refuse_the_first_send(ws):
        # Between the page and the real server: the first message.send gets the error frame a
        # server sends when it refuses one; everything else passes through untouched.
        upstream = ws.connect_to_server()

        def from_page(frame):
            data = json.loads(frame)
            if data.get("event") == "message.send" and not refused:
                refused.append(data)
                error = {"code": "rate_limited", "message": "Try again in 3 seconds.", "details": {
                    "client_id": data["data"]["client_id"]}}  # fmt: skip
                ws.send(json.dumps({"event": "error", "data": {**error, "ref": data.get("ref")}}))
                return
            upstream.send(frame)

        ws.on_message(from_page)

    alice.route_web_socket(re.compile(r"/ws/"), refuse_the_first_send)
    alice.reload()
    alice.wait_for_function("() => window.fastsock.socket.open")
    open_room(alice, direct)
    text = unique("retry-me")
    send(alice, text)
    failed = bubble(alice, text)
    failed.get_by_role("alert").filter(has_text="Slow down — Try again in 3 seconds.").wait_for()
    failed.locator('.ticks[data-state="failed"]').wait_for()
    screenshot(alice, "chat-send-failed")
    failed.get_by_role("button", name="Retry").click()
    bubble(alice, text).locator('.ticks:not([data-state="sending"]):not([data-state="failed"])').wait_for()
    bob = people.log_in("bob")
    open_room(bob, direct)
    bubble(bob, text).wait_for()
    assert bubble(bob, text).count() == 1


def test_files_arrive_by_drop_and_by_paste(people, server, tmp_path):
    group = server.demo["group_room"]
    alice = people.log_in("alice")
    open_room(alice, group)
    carry = alice.evaluate_handle("""() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(["dropped notes"], "dropped.txt", { type: "text/plain" }));
        return transfer;
    }""")
    alice.dispatch_event("#room-view", "dragenter", {"dataTransfer": carry})
    alice.get_by_text("Drop files to send them").wait_for()
    alice.dispatch_event("#room-view", "drop", {"dataTransfer": carry})
    alice.locator("#messages .file-card", has_text="dropped.txt").wait_for()
    alice.get_by_label("Message", exact=True).evaluate("""(box) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(["pasted notes"], "pasted.txt", { type: "text/plain" }));
        box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
    }""")
    alice.locator("#messages .file-card", has_text="pasted.txt").wait_for()


def test_a_direct_conversation_starts_from_the_new_message_dialog(people, server):
    carol = people.log_in("carol")
    carol.get_by_role("button", name="+ Message").click()
    dialog = carol.get_by_role("dialog", name="New message")
    dialog.get_by_label("Find a person").press_sequentially("bob")
    dialog.get_by_role("option", name=re.compile("Bob Builder")).click()
    carol.get_by_role("heading", name="Bob Builder").wait_for()
    text = unique("hi bob")
    send(carol, text)
    bob = people.log_in("bob")
    bob.get_by_role("navigation", name="Rooms").get_by_text("Carol Danvers", exact=True).wait_for()


def test_keyboard_edits_the_last_message_and_escape_cancels(people, server):
    alice = people.log_in("alice")
    open_room(alice, server.demo["group_room"])
    text = unique("typo")
    send(alice, text)
    bubble(alice, text).locator('.ticks:not([data-state="sending"])').wait_for()
    box = alice.get_by_label("Message", exact=True)
    box.press("ArrowUp")
    alice.get_by_label("Edit message").press("Escape")
    alice.get_by_label("Edit message").wait_for(state="detached")
    box.press("ArrowUp")
    fixed = unique("fixed")
    alice.get_by_label("Edit message").fill(fixed)
    alice.get_by_label("Edit message").press("Enter")
    bubble(alice, fixed).get_by_text("edited").wait_for()


def test_a_reply_quotes_the_message_it_answers(people, server):
    group = server.demo["group_room"]
    alice, bob = people.log_in("alice"), people.log_in("bob")
    open_room(alice, group)
    open_room(bob, group)
    question = unique("lunch at noon?")
    send(alice, question)
    bubble(bob, question).click(button="right")
    bob.get_by_role("menuitem", name="Reply").click()
    bob.get_by_text(f"Replying to Alice Liddell: {question}").wait_for()
    answer = unique("yes please")
    send(bob, answer)
    quote = bubble(alice, answer).locator("blockquote")
    quote.get_by_text(question).wait_for()
    quote.get_by_text("Alice Liddell").wait_for()


def test_room_info_renames_adds_removes_and_leaves_live(people, server):
    alice, bob, carol = people.log_in("alice"), people.log_in("bob"), people.log_in("carol")
    name = unique("Plans")
    alice.get_by_role("button", name="+ New group").click()
    dialog = alice.get_by_role("dialog", name="New group")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Add people").press_sequentially("bob")
    dialog.get_by_role("option", name=re.compile("Bob Builder")).click()
    dialog.get_by_role("button", name="Create group with 1 person").click()
    alice.get_by_role("heading", name=name).wait_for()
    bob_rooms = bob.get_by_role("navigation", name="Rooms")
    bob_rooms.get_by_text(name, exact=True).wait_for()

    alice.get_by_role("button", name="Room info").click()
    info = alice.get_by_role("complementary", name="Room info")
    renamed = unique("Better plans")
    info.get_by_label("Room name").fill(renamed)
    info.get_by_role("button", name="Save").click()
    bob_rooms.get_by_text(renamed, exact=True).wait_for()

    info.get_by_label("Find people to add").press_sequentially("carol")
    info.get_by_role("option", name=re.compile("Carol Danvers")).click()
    info.get_by_text("@carol").wait_for()
    carol_rooms = carol.get_by_role("navigation", name="Rooms")
    carol_rooms.get_by_text(renamed, exact=True).wait_for()

    info.get_by_role("button", name="Remove Carol Danvers").click()
    info.get_by_text("@carol").wait_for(state="detached")
    carol_rooms.get_by_text(renamed, exact=True).wait_for(state="detached")

    room_id = int(alice.url.rstrip("/").rsplit("/", 1)[1])
    open_room(bob, room_id)
    bob.get_by_role("button", name="Room info").click()
    bob.get_by_role("button", name="Leave room").click()
    bob.get_by_role("button", name="Leave", exact=True).click()
    bob_rooms.get_by_text(renamed, exact=True).wait_for(state="detached")
    bob.get_by_role("heading", name=re.compile("Hi Bob")).wait_for()
    alice.get_by_text("@bob").wait_for(state="detached")


def test_a_file_of_a_type_not_accepted_is_explained_and_not_sent(people, server, tmp_path):
    alice = people.log_in("alice")
    open_room(alice, server.demo["group_room"])
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ\x90\x00" + bytes(range(256)) * 64)
    alice.locator("#file-input").set_input_files(program)
    failed = alice.locator(".upload.failed", has_text="setup.exe")
    failed.get_by_role("alert").wait_for()
    assert "not" in failed.get_by_role("alert").inner_text().lower()
    assert failed.get_by_role("button", name="Retry").count() == 0  # retrying cannot help
    failed.get_by_role("button", name="Dismiss").click()
    failed.wait_for(state="detached")
    assert alice.locator("#messages .file-card", has_text="setup.exe").count() == 0

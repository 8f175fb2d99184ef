"""Voice calls without Asterisk: accepting them, statuses forward only, the timeline, the end,
usage, the trunk breaker and the call-events webhook. (The orchestrator against the ARI
simulator is in tests/test_voice_orchestrator.py.)"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client, TestCase
from django.utils import timezone

from fastsock.core.testing import api_client_for
from telecom import breaker, keys, services, voice, webhooks
from telecom.models import (
    CallEvent,
    CallFlow,
    CallFlowVersion,
    Connector,
    PhoneNumber,
    Project,
    ProviderEvent,
    VoiceCall,
)
from tests.sms_gateways import CallbackRecorder

pytestmark = pytest.mark.django_db

NUMBER = "+14155550100"
FLOW = {"steps": [{"say": {"text": "Hello"}}, {"hangup": {}}]}


@pytest.fixture
def project(alice):
    response = api_client_for(alice).post("/v1/projects", {"name": "Clinic"}, format="json")
    assert response.status_code == 201, response.content
    return Project.objects.get(pk=response.json()["id"])


@pytest.fixture
def number(project):
    return PhoneNumber.objects.create(e164=NUMBER, project=project, voice=True)


@pytest.fixture
def flow(project, alice):
    flow = CallFlow.objects.create(project=project, name="reception", created_by=alice)
    version = CallFlowVersion.objects.create(flow=flow, number=1, definition=FLOW)
    CallFlow.objects.filter(pk=flow.pk).update(active_version=version)
    return flow


@pytest.fixture
def trunk(monkeypatch):
    monkeypatch.setenv("TRUNK_SECRET", "a-long-enough-webhook-secret")
    cache.clear()
    return Connector.objects.create(
        name="trunk-a", kind="asterisk", base_url="http://127.0.0.1:9", webhook_secret_env="TRUNK_SECRET",
        allowed_networks=["127.0.0.1/32"],
    )  # fmt: skip


def place(alice, body, **headers):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api_client_for(alice).post("/v1/calls", body, format="json", **headers)


# Accepting calls.


def test_a_call_without_a_trunk_is_accepted_queued_then_fails_saying_why(alice, number, flow):
    response = place(alice, {"to": "+14155550123", "flow_id": flow.pk})
    assert response.status_code == 201, response.content
    accepted = response.json()
    assert accepted["sid"].startswith("CA")
    assert len(accepted["sid"]) == 34
    assert accepted["status"] == "queued"
    assert (accepted["from"], accepted["flow_id"], accepted["flow_version"]) == (NUMBER, flow.pk, 1)
    # The origination task ran inline: no trunk carries this number.
    shown = api_client_for(alice).get(f"/v1/calls/{accepted['sid']}").json()
    assert shown["status"] == "failed"
    assert shown["error_message"] == "No trunk could take the call."
    assert [event["kind"] for event in shown["events"]] == ["created", "status", "hangup"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "555", "flow": FLOW}, "to"),
        ({"to": "+14155550123"}, "flow_id"),
        ({"to": "+14155550123", "flow_id": 1, "flow": FLOW}, "flow_id"),
        ({"to": "+14155550123", "from": "+14155550999", "flow": FLOW}, "from"),
        ({"to": "+14155550123", "flow": FLOW, "status_callback": "ftp://x"}, "status_callback"),
    ],
)
def test_bad_calls_are_refused_field_by_field(alice, number, body, field):
    response = place(alice, body)
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
    assert not VoiceCall.objects.exists()


def test_an_invalid_inline_flow_is_refused_with_the_path_of_each_problem(alice, number):
    response = place(alice, {"to": "+14155550123", "flow": {"steps": [{"sing": {}}]}})
    assert response.status_code == 400
    problems = response.json()["error"]["details"]["flow"]
    assert problems
    assert all(set(problem) == {"path", "reason"} for problem in problems)
    assert any(problem["path"].startswith("$.steps[0]") for problem in problems)


def test_another_projects_flow_and_a_flow_with_no_active_version_are_refused(alice, bob, number, flow):
    other = Project.objects.create(name="Other")
    foreign = CallFlow.objects.create(project=other, name="theirs")
    assert place(alice, {"to": "+14155550123", "flow_id": foreign.pk}).status_code == 404
    idle = CallFlow.objects.create(project=number.project, name="idle")
    refused = place(alice, {"to": "+14155550123", "flow_id": idle.pk})
    assert refused.status_code == 400
    assert "flow_id" in refused.json()["error"]["details"]


def test_calls_are_only_visible_to_their_project(alice, bob, number, flow):
    sid = place(alice, {"to": "+14155550123", "flow_id": flow.pk}).json()["sid"]
    Project.objects.create(name="Bob's")  # bob belongs to no project of alice's
    api_client_for(bob).post("/v1/projects", {"name": "Bob's"}, format="json")
    assert api_client_for(bob).get(f"/v1/calls/{sid}").status_code == 404
    listed = api_client_for(alice).get("/v1/calls").json()["results"]
    assert [call["sid"] for call in listed] == [sid]


def test_placing_calls_is_rate_limited(alice, number, flow, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "telecom.calls.project": "2/m"}
    for _ in range(2):
        assert place(alice, {"to": "+14155550123", "flow_id": flow.pk}).status_code == 201
    limited = place(alice, {"to": "+14155550123", "flow_id": flow.pk})
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1


# Statuses, timeline, end.


def make_call(project, **fields):
    return VoiceCall.objects.create(
        project=project, direction="outbound", from_number=NUMBER, to_number="+14155550123", definition=FLOW, **fields
    )


def test_statuses_only_move_forward_and_each_change_is_on_the_timeline(project):
    call = make_call(project)
    assert voice.call_ringing(call_id=call.pk)
    assert voice.call_answered(call_id=call.pk, channel_id="chan-1")
    assert not voice.call_ringing(call_id=call.pk)  # late ringing: ignored
    assert voice.call_finish(call_id=call.pk, cause=16, cause_text="Normal Clearing") == "completed"
    assert voice.call_finish(call_id=call.pk, cause=17) == "completed"  # ended once
    call.refresh_from_db()
    assert call.status == "completed"
    assert call.hangup_cause == 16
    kinds = list(call.events.values_list("kind", flat=True))
    assert kinds == ["status", "ringing", "status", "answered", "status", "hangup"]
    assert list(call.events.values_list("seq", flat=True)) == list(range(1, 7))


@pytest.mark.parametrize(
    ("cause", "answered", "status"),
    [(17, False, "busy"), (21, False, "busy"), (19, False, "no-answer"), (18, False, "no-answer"),
     (34, False, "failed"), (1, False, "failed"), (17, True, "completed"), (None, False, "failed")],
)  # fmt: skip
def test_hangup_causes_map_onto_final_statuses(cause, answered, status):
    assert voice.outcome_for_cause(cause, answered=answered) == status


def test_duration_counts_from_the_answer_and_lands_in_the_days_usage(project):
    call = make_call(project)
    voice.call_answered(call_id=call.pk, channel_id="chan-1")
    VoiceCall.objects.filter(pk=call.pk).update(answered_at=timezone.now() - timedelta(seconds=125))
    voice.call_finish(call_id=call.pk, cause=16)
    unanswered = make_call(project)
    voice.call_finish(call_id=unanswered.pk, cause=19)
    call.refresh_from_db()
    assert 125 <= call.duration_seconds <= 127
    services.usage_aggregate(day=timezone.now().date())
    usage = project.usage.get()
    assert usage.call_seconds == call.duration_seconds
    # Reported in whole minutes, rounded up; recounting gives the same.
    services.usage_aggregate(day=timezone.now().date())
    assert project.usage.get().call_seconds == call.duration_seconds


def test_a_replayed_event_is_recorded_once(project):
    call = make_call(project)
    assert voice.call_event_add(call_id=call.pk, kind=CallEvent.Kind.DIGITS, data={"d": "1"}, dedupe_key="x")
    assert not voice.call_event_add(call_id=call.pk, kind=CallEvent.Kind.DIGITS, data={"d": "1"}, dedupe_key="x")
    assert call.events.count() == 1


def test_each_status_change_is_posted_signed_to_the_calls_callback(project):
    receiver = CallbackRecorder(lambda _path: (204, ""))
    try:
        call = make_call(project, status_callback=f"{receiver.base_url}/status")
        with TestCase.captureOnCommitCallbacks(execute=True):
            voice.call_ringing(call_id=call.pk)
        with TestCase.captureOnCommitCallbacks(execute=True):
            voice.call_finish(call_id=call.pk, cause=17)
    finally:
        receiver.close()
    received = [(c.headers, c.body) for c in receiver.received]
    payloads = [json.loads(body) for _, body in received]
    assert [(p["type"], p["sid"], p["status"]) for p in payloads] == [
        ("call.status", call.sid, "ringing"),
        ("call.status", call.sid, "busy"),
    ]
    assert payloads[1]["hangup_cause"] == 17
    for headers, body in received:
        parts = dict(part.split("=", 1) for part in headers["fastsock-signature"].split(","))
        secret = keys.signing_secret(project.pk, project.signing_generation)
        assert parts["v1"] == keys.stripe_signature(secret, int(parts["t"]), body)


# The trunk breaker.


def test_the_breaker_opens_after_repeated_failures_then_lets_one_probe_through(trunk, settings):
    settings.TELECOM_BREAKER_FAILURES, settings.TELECOM_BREAKER_OPEN_SECONDS = 3, 30
    for _ in range(2):
        breaker.breaker_record_failure(trunk)
    assert breaker.breaker_state(trunk) == "closed"
    assert breaker.breaker_allows(trunk)
    assert breaker.breaker_record_failure(trunk) == "open"
    assert not breaker.breaker_allows(trunk)
    # Time passes: half-open, one probe at a time.
    cache.set(f"telecom:breaker:{trunk.pk}:opened_at", timezone.now().timestamp() - 31, timeout=None)
    assert breaker.breaker_state(trunk) == "half-open"
    assert breaker.breaker_allows(trunk)
    assert not breaker.breaker_allows(trunk)
    assert breaker.breaker_record_failure(trunk) == "open"  # the probe failed: open again
    cache.set(f"telecom:breaker:{trunk.pk}:opened_at", timezone.now().timestamp() - 31, timeout=None)
    assert breaker.breaker_allows(trunk)
    breaker.breaker_record_success(trunk)
    assert breaker.breaker_state(trunk) == "closed"


def test_an_operator_override_wins_over_the_counting(trunk):
    trunk.circuit_override = "open"
    assert not breaker.breaker_allows(trunk)
    trunk.circuit_override = "closed"
    for _ in range(10):
        breaker.breaker_record_failure(trunk)
    assert breaker.breaker_allows(trunk)


# The call-events webhook.


def events_path(trunk) -> str:
    url = urlsplit(webhooks.fixed_url(trunk, "events"))
    return f"{url.path}?{url.query}"


def post_event(path, body, source="127.0.0.1"):
    return Client(REMOTE_ADDR=source).post(path, json.dumps(body), content_type="application/json")


def test_a_signed_hangup_event_ends_the_call_once(project, trunk, number):
    number.connectors.add(trunk)
    call = make_call(project, channel_id="chan-9")
    voice.call_answered(call_id=call.pk, channel_id="chan-9")
    path = events_path(trunk)
    first = post_event(path, {"id": "ev-1", "channel_id": "chan-9", "event": "hangup", "cause": 16})
    assert first.status_code == 200
    assert first.json() == {"status": "applied"}
    assert post_event(path, {"id": "ev-1", "channel_id": "chan-9", "event": "hangup"}).json() == {"status": "duplicate"}
    call.refresh_from_db()
    assert call.status == "completed"
    assert ProviderEvent.objects.filter(kind="call").count() == 1


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda path: path.replace("sig=", "sig=0"), 401),
        (lambda path: path.split("?")[0], 401),
    ],
)
def test_unsigned_or_forged_event_urls_change_nothing(project, trunk, number, mutate, status):
    number.connectors.add(trunk)
    call = make_call(project, channel_id="chan-9")
    response = post_event(mutate(events_path(trunk)), {"id": "ev-1", "channel_id": "chan-9", "event": "hangup"})
    assert response.status_code == status
    call.refresh_from_db()
    assert call.status == "queued"
    assert not ProviderEvent.objects.exists()


def test_events_from_outside_the_allowlist_and_bad_bodies_are_refused(project, trunk, number):
    path = events_path(trunk)
    assert post_event(path, {"id": "e", "event": "hangup"}, source="10.9.9.9").status_code == 403
    assert post_event(path, {"id": "e", "event": "exploded"}).status_code == 400
    assert post_event(path, {"event": "hangup"}).status_code == 400
    assert post_event(path, {"id": "e", "event": "hangup", "cause": "loud"}).status_code == 400
    malformed = Client(REMOTE_ADDR="127.0.0.1").post(path, "{nope", content_type="application/json")
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "malformed_request"
    assert not ProviderEvent.objects.exists()

"""The voice back office: the flow editor validates and saves new versions, versions are
activated and rolled back, the active version is drawn step by step, calls show their
timeline and recordings, and trunks take a manual circuit-breaker override."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.test import Client

from telecom import flow_services, services
from telecom.models import CallEvent, CallFlow, CallRecording, Connector, VoiceCall

pytestmark = pytest.mark.django_db

H = {"hangup": {}}
MENU = {
    "steps": [
        {"say": {"text": "Welcome to the <shop>.", "language": "en-us"}},
        {
            "gather": {
                "num_digits": 1,
                "prompt": {"say": {"text": "Press 1 for sales."}},
                "branches": {"1": [{"dial": {"to": ["+14155550123"], "on_busy": [{"say": {"text": "Busy."}}]}}]},
                "no_input": [H],
            }
        },
        H,
    ]
}
GOODBYE = {"steps": [{"say": {"text": "Goodbye."}}, H]}


@pytest.fixture
def staff(make_user):
    return make_user("mod", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def project(alice):
    return services.project_create(owner=alice, name="Shop")


@pytest.fixture
def menu(alice, project):
    return flow_services.call_flow_create(project=project, actor=alice, name="Menu", definition=MENU)


def change_url(flow: CallFlow) -> str:
    return f"/admin/telecom/callflow/{flow.pk}/change/"


def edit(client: Client, flow: CallFlow, definition, *, activate: bool = False, raw: str | None = None):
    data = {"definition": raw if raw is not None else json.dumps(definition)}
    if activate:
        data["activate"] = "on"
    # The version history inline is read-only, but its management form is posted with the page.
    data.update({"versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0", "versions-MAX_NUM_FORMS": "0"})
    return client.post(change_url(flow), data)


def test_a_flow_made_in_the_editor_has_its_first_version_active(admin_client, project, staff):
    page = admin_client.get("/admin/telecom/callflow/add/")
    assert page.status_code == 200
    assert 'class="flow-json"' in page.content.decode()
    response = admin_client.post(
        "/admin/telecom/callflow/add/",
        {
            "project": project.pk,
            "name": "Support",
            "definition": json.dumps(GOODBYE),
            "versions-TOTAL_FORMS": "0",
            "versions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    flow = CallFlow.objects.get(name="Support")
    assert (flow.active_version.number, flow.active_version.definition, flow.created_by) == (1, GOODBYE, staff)
    assert LogEntry.objects.filter(object_id=str(flow.pk)).exists()


def test_a_second_flow_of_the_same_name_in_a_project_is_refused_on_the_form(admin_client, project, menu):
    response = admin_client.post(
        "/admin/telecom/callflow/add/",
        {"project": project.pk, "name": "Menu", "definition": json.dumps(GOODBYE), "versions-TOTAL_FORMS": "0",
         "versions-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert CallFlow.objects.count() == 1


def test_the_editor_refuses_what_is_not_json(admin_client, menu):
    response = edit(admin_client, menu, None, raw='{"steps": [')
    assert response.status_code == 200
    assert "Not valid JSON: Expecting value (line 1, column 12)." in response.content.decode()
    assert menu.versions.count() == 1


def test_the_editor_shows_each_problem_with_its_path_and_reason(admin_client, menu):
    response = edit(admin_client, menu, {"steps": [{"say": {}}, {"speak": {}}]})
    page = response.content.decode()
    assert response.status_code == 200
    assert "$.steps[0].say.text: is missing: say needs text" in page
    assert "$.steps[1].speak: unknown step &#x27;speak&#x27;" in page
    assert menu.versions.count() == 1


def test_saving_a_changed_definition_makes_a_new_version_that_is_not_active(admin_client, menu):
    response = edit(admin_client, menu, GOODBYE)
    assert response.status_code == 302, response.content.decode()[:3000]
    menu.refresh_from_db()
    assert [v.number for v in menu.versions.order_by("number")] == [1, 2]
    assert menu.active_version.number == 1
    # The editor opens on the newest version.
    page = admin_client.get(change_url(menu)).content.decode()
    assert "Goodbye." in page.split('name="definition"')[1].split("</textarea>")[0]


def test_the_activate_box_makes_the_new_version_active(admin_client, menu):
    assert edit(admin_client, menu, GOODBYE, activate=True).status_code == 302
    menu.refresh_from_db()
    assert (menu.active_version.number, menu.active_version.definition) == (2, GOODBYE)


def test_saving_an_unchanged_definition_makes_no_version(admin_client, menu):
    response = edit(admin_client, menu, None, raw=json.dumps(MENU, indent=4))
    assert response.status_code == 302
    assert menu.versions.count() == 1


def test_the_active_version_is_drawn_step_by_step_with_its_branches(admin_client, menu):
    page = admin_client.get(change_url(menu)).content.decode()
    diagram = page.split('class="flow-diagram"')[1]
    verbs = re.findall(r'<span class="flow-verb">(\w+)</span>', diagram)
    assert verbs == ["say", "gather", "dial", "say", "hangup", "hangup"]
    assert "“Welcome to the &lt;shop&gt;.” (en-us)" in diagram  # escaped, never markup
    assert "1 digit(s), 5 s timeout, ends with #; prompt: say “Press 1 for sales.”" in diagram
    labels = re.findall(r'<span class="flow-branch-label">([^<]+)</span>', diagram)
    assert labels == ["pressed 1", "busy", "no input"]
    assert "telecom/admin/flows.css" in page


def test_version_history_offers_activation_and_rollback(admin_client, alice, menu):
    flow_services.call_flow_version_add(flow=menu, actor=alice, definition=GOODBYE)
    page = admin_client.get(change_url(menu)).content.decode()
    assert f"/admin/telecom/callflow/{menu.pk}/versions/2/activate/" in page
    assert "<strong>active</strong>" in page

    confirm = admin_client.get(f"/admin/telecom/callflow/{menu.pk}/versions/2/activate/")
    assert confirm.status_code == 200
    assert "Activate version 2" in confirm.content.decode()
    done = admin_client.post(f"/admin/telecom/callflow/{menu.pk}/versions/2/activate/", follow=True)
    assert "Version 2 of “Menu” is active." in done.content.decode()
    menu.refresh_from_db()
    assert menu.active_version.number == 2

    page = admin_client.get(change_url(menu)).content.decode()
    assert "Roll back to this version" in page
    confirm = admin_client.get(f"/admin/telecom/callflow/{menu.pk}/versions/1/activate/").content.decode()
    assert "back from version 2 to version 1" in confirm
    admin_client.post(f"/admin/telecom/callflow/{menu.pk}/versions/1/activate/")
    menu.refresh_from_db()
    assert menu.active_version.number == 1
    assert LogEntry.objects.filter(object_id=str(menu.pk), change_message="Activated version 1.").exists()


def test_activating_a_version_that_does_not_exist_is_not_found(admin_client, menu):
    assert admin_client.post(f"/admin/telecom/callflow/{menu.pk}/versions/7/activate/").status_code == 404
    menu.refresh_from_db()
    assert menu.active_version.number == 1


def test_versions_are_read_only_and_can_be_activated_from_their_list(admin_client, alice, menu):
    version = flow_services.call_flow_version_add(flow=menu, actor=alice, definition=GOODBYE)
    page = admin_client.get(f"/admin/telecom/callflowversion/{version.pk}/change/").content.decode()
    assert "Goodbye." in page
    assert 'name="definition"' not in page
    response = admin_client.post(
        "/admin/telecom/callflowversion/", {"action": "activate", "_selected_action": [version.pk]}, follow=True
    )
    assert "Activated 1 version(s)." in response.content.decode()
    menu.refresh_from_db()
    assert menu.active_version == version
    two_of_one_flow = admin_client.post(
        "/admin/telecom/callflowversion/",
        {"action": "activate", "_selected_action": list(menu.versions.values_list("pk", flat=True))},
        follow=True,
    )
    assert "at most one version of each flow" in two_of_one_flow.content.decode()
    assert admin_client.post(f"/admin/telecom/callflowversion/{version.pk}/delete/").status_code == 403


def test_people_without_staff_access_cannot_activate(alice, menu):
    client = Client()
    client.force_login(alice)
    response = client.post(f"/admin/telecom/callflow/{menu.pk}/versions/1/activate/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- calls ---------------------------------------------------------------------------------------


@pytest.fixture
def call(project, menu, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    call = VoiceCall.objects.create(
        project=project, direction="outbound", from_number="+14155550100", to_number="+14155550123",
        status="completed", flow_version=menu.active_version, definition=MENU, duration_seconds=75,
        hangup_cause=16, hangup_cause_text="Normal Clearing",
    )  # fmt: skip
    for seq, kind in enumerate(["created", "ringing", "answered", "digits", "hangup"], start=1):
        CallEvent.objects.create(call=call, seq=seq, kind=kind, data={"n": seq, "kind": kind})
    recording = CallRecording(call=call, name=f"{call.sid}-rec-1", duration_seconds=4, status="stored")
    recording.file.save("voicemail.wav", ContentFile(b"RIFF-fake-audio"), save=False)
    recording.size_bytes = 15
    recording.save()
    return call


def test_a_call_page_shows_its_timeline_in_order_and_its_recordings(admin_client, call):
    assert call.sid.startswith("CA")
    assert len(call.sid) == 34
    page = admin_client.get(f"/admin/telecom/voicecall/{call.pk}/change/").content.decode()
    timeline = page.split("timeline")[-1]
    positions = [
        timeline.index(f"&quot;kind&quot;: &quot;{kind}&quot;")
        for kind in ["created", "ringing", "answered", "digits", "hangup"]
    ]
    assert positions == sorted(positions)
    recording = call.recordings.get()
    assert recording.sid.startswith("RE")
    download = f"/admin/telecom/voicecall/{call.pk}/recordings/{recording.sid}/"
    assert download in page
    assert "Normal Clearing" in page
    response = admin_client.get(download)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"RIFF-fake-audio"
    assert "attachment" in response["Content-Disposition"]
    assert admin_client.get(f"/admin/telecom/voicecall/{call.pk}/recordings/RE{'0' * 32}/").status_code == 404


def test_calls_are_a_read_only_record(admin_client, call):
    assert admin_client.get("/admin/telecom/voicecall/", {"q": call.to_number}).status_code == 200
    assert call.sid in admin_client.get("/admin/telecom/voicecall/", {"q": call.sid}).content.decode()
    assert admin_client.get("/admin/telecom/voicecall/add/").status_code == 403
    assert admin_client.post(f"/admin/telecom/voicecall/{call.pk}/delete/").status_code == 403
    assert 'name="status"' not in admin_client.get(f"/admin/telecom/voicecall/{call.pk}/change/").content.decode()


def test_flow_pages_open_and_find_their_rows(admin_client, menu):
    assert "Menu" in admin_client.get("/admin/telecom/callflow/", {"q": "Menu"}).content.decode()
    assert "Menu" in admin_client.get("/admin/telecom/callflowversion/", {"q": "Menu"}).content.decode()


# --- trunks -------------------------------------------------------------------------------------


def test_a_trunks_circuit_breaker_can_be_forced_and_reset_by_hand(admin_client, settings):
    trunk = Connector.objects.create(
        name="trunk-1", kind="asterisk", base_url="http://127.0.0.1:8088", webhook_secret_env="ARI_SECRET"
    )
    from telecom import breaker

    for _ in range(settings.TELECOM_BREAKER_FAILURES):
        breaker.breaker_record_failure(trunk)
    assert breaker.breaker_state(trunk) == "open"
    page = admin_client.get(f"/admin/telecom/connector/{trunk.pk}/change/").content.decode()
    assert 'name="circuit_override"' in page
    response = admin_client.post(
        "/admin/telecom/connector/", {"action": "reset_circuit", "_selected_action": [trunk.pk]}, follow=True
    )
    assert "Reset the circuit breaker of 1 trunk(s)." in response.content.decode()
    assert breaker.breaker_state(trunk) == "closed"

    forced = admin_client.post(
        f"/admin/telecom/connector/{trunk.pk}/change/",
        {
            "name": "trunk-1", "kind": "asterisk", "base_url": "http://127.0.0.1:8088",
            "webhook_secret_env": "ARI_SECRET", "priority": "100", "throughput_per_second": "0",
            "max_segments": "10", "enabled": "on", "circuit_override": "open",
        },
    )  # fmt: skip
    assert forced.status_code == 302, forced.content.decode()[:3000]
    trunk.refresh_from_db()
    assert (trunk.circuit_override, breaker.breaker_state(trunk)) == ("open", "open")
    assert "open (forced)" in admin_client.get("/admin/telecom/connector/").content.decode()


def test_a_number_runs_a_flow_of_its_own_project_only(admin_client, carol, project, menu):
    from telecom.models import PhoneNumber

    number = PhoneNumber.objects.create(e164="+14155550100", project=project, voice=True)
    theirs = flow_services.call_flow_create(
        project=services.project_create(owner=carol, name="Other"), actor=carol, name="Theirs", definition=GOODBYE
    )
    form = {"e164": "+14155550100", "project": project.pk, "sms": "on", "voice": "on"}
    refused = admin_client.post(f"/admin/telecom/phonenumber/{number.pk}/change/", {**form, "voice_flow": theirs.pk})
    assert refused.status_code == 200
    assert "A flow of the number&#x27;s own project." in refused.content.decode()
    saved = admin_client.post(f"/admin/telecom/phonenumber/{number.pk}/change/", {**form, "voice_flow": menu.pk})
    assert saved.status_code == 302, saved.content.decode()[:3000]
    number.refresh_from_db()
    assert number.voice_flow == menu

"""Operator set-up from the command line, and the signed webhook URLs it prints."""

from __future__ import annotations

import json
import time
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import CommandError, call_command

from telecom import webhooks
from telecom.models import CallFlow, Connector, InboundRoute, PhoneNumber, Project

pytestmark = pytest.mark.django_db
SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture(autouse=True)
def webhook_secret(monkeypatch):
    monkeypatch.setenv("JASMIN_WEBHOOK_SECRET", SECRET)


def run(*args) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def connector(**extra) -> dict:
    return run(
        "telecom_connector", "jasmin-1", "--kind", "jasmin", "--url", "http://127.0.0.1:1401",
        "--username-env", "JASMIN_USER", "--password-env", "JASMIN_PASSWORD",
        "--webhook-secret-env", "JASMIN_WEBHOOK_SECRET", "--allow", "127.0.0.1/32", *extra.get("more", ()),
    )  # fmt: skip


def test_a_connector_is_made_then_updated_in_place_and_prints_signed_urls_without_secrets():
    printed = connector()
    assert printed["inbound_url"].startswith("http://127.0.0.1:8000/webhooks/sms/jasmin-1/inbound?sig=")
    assert printed["events_url"].startswith("http://127.0.0.1:8000/webhooks/calls/jasmin-1/events?sig=")
    assert SECRET not in json.dumps(printed)
    again = connector(more=("--priority", "5"))
    assert again == printed
    row = Connector.objects.get()
    assert (row.priority, row.username_env, row.allowed_networks) == (5, "JASMIN_USER", ["127.0.0.1/32"])
    sig = parse_qs(urlsplit(printed["inbound_url"]).query)["sig"][0]
    assert webhooks.check_signature(row, "inbound", {"sig": sig}) is None
    with pytest.raises(webhooks.WebhookRefused):
        webhooks.check_signature(row, "events", {"sig": sig})  # signed for another purpose


def test_a_connector_without_its_secret_in_the_environment_is_refused_clearly(monkeypatch):
    monkeypatch.delenv("JASMIN_WEBHOOK_SECRET")
    with pytest.raises(CommandError, match="JASMIN_WEBHOOK_SECRET"):
        connector()


def test_dlr_urls_are_signed_over_the_sid_and_expire():
    connector()
    row = Connector.objects.get()
    params = {k: v[0] for k, v in parse_qs(urlsplit(webhooks.dlr_url(row, "SM" + "0" * 32)).query).items()}
    assert webhooks.check_signature(row, "dlr", params) == "SM" + "0" * 32
    with pytest.raises(webhooks.WebhookRefused):
        webhooks.check_signature(row, "dlr", {**params, "sid": "SM" + "1" * 32})
    with pytest.raises(webhooks.WebhookRefused):
        webhooks.check_signature(row, "dlr", params, now=time.time() + webhooks.DLR_LIFETIME_SECONDS + 60)


def test_sources_outside_the_allowlist_are_refused():
    connector()
    row = Connector.objects.get()
    webhooks.check_source(row, "127.0.0.1")
    for address in ("10.0.0.1", "::1", "not-an-ip"):
        with pytest.raises(webhooks.WebhookRefused):
            webhooks.check_source(row, address)


def test_a_number_is_bound_to_its_connector_with_a_route(alice):
    connector()
    project = Project.objects.create(name="Shop")
    printed = run(
        "telecom_number", "+14155550100", "--project", str(project.pk), "--connector", "jasmin-1",
        "--route-user", "alice",
    )  # fmt: skip
    assert printed == {
        "number": "+14155550100",
        "project": project.pk,
        "connector": "jasmin-1",
        "route": {"user": "alice"},
    }
    number = PhoneNumber.objects.get()
    assert list(number.connectors.values_list("name", flat=True)) == ["jasmin-1"]
    assert InboundRoute.objects.get().target_user == alice
    with pytest.raises(CommandError, match=r"E\.164"):
        run("telecom_number", "0155", "--project", str(project.pk), "--connector", "jasmin-1")


def test_a_number_can_run_a_call_flow_of_its_own_project_only():
    connector()
    project, other = Project.objects.create(name="Clinic"), Project.objects.create(name="Other")
    flow = CallFlow.objects.create(project=project, name="reception")
    foreign = CallFlow.objects.create(project=other, name="theirs")
    base = ("telecom_number", "+14155550100", "--project", str(project.pk), "--connector", "jasmin-1")

    printed = run(*base, "--voice-flow", str(flow.pk))

    assert printed["voice_flow"] == flow.pk
    number = PhoneNumber.objects.get()
    assert (number.voice, number.voice_flow) == (True, flow)
    with pytest.raises(CommandError, match="No call flow"):
        run(*base, "--voice-flow", str(foreign.pk))
    assert PhoneNumber.objects.get().voice_flow == flow

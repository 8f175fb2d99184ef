"""/v1/flows: create, list, read, add versions, activate and roll back; who may do what; bad
input; idempotency and rate limits. alice owns the project, bob is a member, carol is outside."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from fastsock.core.errors import ApiError
from fastsock.core.testing import api_client_for
from telecom import flow_services, services
from telecom.models import CallFlow, CallFlowVersion, ImmutableVersionError, ProjectMember

pytestmark = pytest.mark.django_db

H = {"hangup": {}}
HELLO = {"steps": [{"say": {"text": "Hello."}}, H]}
GOODBYE = {"steps": [{"say": {"text": "Goodbye."}}, H]}


@pytest.fixture
def project(alice, bob):
    project = services.project_create(owner=alice, name="Shop")
    ProjectMember.objects.create(project=project, user=bob)
    return project


@pytest.fixture
def owner(alice, project):
    return api_client_for(alice)


@pytest.fixture
def api_key(alice, project):
    return services.api_key_create(project=project, actor=alice, name="server")[1]


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"ApiKey {key}")
    return client


def create(client, name="Support line", definition=HELLO, **headers):
    return client.post("/v1/flows", {"name": name, "definition": definition}, format="json", **headers)


@pytest.fixture
def flow(owner):
    response = create(owner)
    assert response.status_code == 201, response.content
    return response.json()


def test_a_new_flow_has_version_1_active_at_once(owner):
    response = create(owner)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["name"], body["version"], body["active_version"]) == ("Support line", 1, 1)
    assert body["definition"] == HELLO
    assert [(v["version"], v["active"], v["definition"]) for v in body["versions"]] == [(1, True, HELLO)]
    assert body["versions"][0]["created_by"] == "alice"


def test_flows_are_listed_newest_first_a_page_at_a_time(owner):
    ids = [create(owner, name=f"Flow {n}").json()["id"] for n in range(3)]
    first = owner.get("/v1/flows?limit=2").json()
    assert [item["id"] for item in first["results"]] == ids[::-1][:2]
    assert first["has_more"] is True
    rest = owner.get(f"/v1/flows?limit=2&before={first['next']}").json()
    assert ([item["id"] for item in rest["results"]], rest["has_more"]) == ([ids[0]], False)
    assert first["results"][0] == {
        "id": ids[2],
        "name": "Flow 2",
        "version": 1,
        "active_version": 1,
        "created_at": first["results"][0]["created_at"],
    }
    assert owner.get("/v1/flows?before=abc").status_code == 400


def test_a_new_version_is_not_active_until_activated(owner, flow):
    response = owner.post(f"/v1/flows/{flow['id']}/versions", {"definition": GOODBYE}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["version"], response.json()["active"]) == (2, False)
    detail = owner.get(f"/v1/flows/{flow['id']}").json()
    assert (detail["version"], detail["active_version"], detail["definition"]) == (2, 1, HELLO)
    assert [(v["version"], v["active"]) for v in detail["versions"]] == [(2, False), (1, True)]


def test_activating_switches_versions_and_an_older_one_rolls_back(owner, flow):
    owner.post(f"/v1/flows/{flow['id']}/versions", {"definition": GOODBYE}, format="json")
    activated = owner.post(f"/v1/flows/{flow['id']}/activate", {"version": 2}, format="json")
    assert activated.status_code == 200, activated.content
    assert (activated.json()["active_version"], activated.json()["definition"]) == (2, GOODBYE)
    rolled_back = owner.post(f"/v1/flows/{flow['id']}/activate", {"version": 1}, format="json").json()
    assert (rolled_back["active_version"], rolled_back["definition"]) == (1, HELLO)
    assert CallFlow.objects.get(pk=flow["id"]).active_version.number == 1
    # Activating the active version again changes nothing and is fine.
    assert owner.post(f"/v1/flows/{flow['id']}/activate", {"version": 1}, format="json").status_code == 200


def test_versions_can_be_listed_and_read_one_by_one(owner, flow):
    for _ in range(2):
        owner.post(f"/v1/flows/{flow['id']}/versions", {"definition": GOODBYE}, format="json")
    page = owner.get(f"/v1/flows/{flow['id']}/versions?limit=2").json()
    assert ([v["version"] for v in page["results"]], page["has_more"], page["next"]) == ([3, 2], True, "2")
    rest = owner.get(f"/v1/flows/{flow['id']}/versions?before=2").json()
    assert [v["version"] for v in rest["results"]] == [1]
    one = owner.get(f"/v1/flows/{flow['id']}/versions/1").json()
    assert (one["flow_id"], one["version"], one["active"], one["definition"]) == (flow["id"], 1, True, HELLO)
    assert owner.get(f"/v1/flows/{flow['id']}/versions/9").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"version": 9}, 404, "version"),
        ({"version": "two"}, 400, "version"),
        ({"version": True}, 400, "version"),
        ({}, 400, "version"),
    ],
)
def test_activating_a_version_that_does_not_exist_or_is_not_a_number_is_refused(owner, flow, body, status, field):
    response = owner.post(f"/v1/flows/{flow['id']}/activate", body, format="json")
    assert response.status_code == status
    assert field in response.json()["error"]["details"]
    assert CallFlow.objects.get(pk=flow["id"]).active_version.number == 1


def test_an_invalid_definition_gets_400_with_each_path_and_reason_and_nothing_is_stored(owner):
    bad = {"steps": [{"say": {}}, {"gather": {"num_digits": 0}}]}
    response = create(owner, definition=bad)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["details"]["definition"] == [
        {"path": "$.steps[0].say.text", "reason": "is missing: say needs text"},
        {"path": "$.steps[1].gather.num_digits", "reason": "must be at least 1, not 0"},
    ]
    assert (
        error["message"]
        == "The flow definition is not valid: $.steps[0].say.text is missing: say needs text (and 1 more)."
    )
    assert not CallFlow.objects.exists()


def test_an_invalid_new_version_is_refused_and_the_flow_is_unchanged(owner, flow):
    response = owner.post(
        f"/v1/flows/{flow['id']}/versions", {"definition": {"steps": [{"say": {"text": "x"}}]}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["definition"] == [
        {"path": "$.steps", "reason": 'has no reachable hangup: add {"hangup": {}} where the call should end'}
    ]
    assert CallFlowVersion.objects.filter(flow_id=flow["id"]).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"definition": HELLO}, "name"),
        ({"name": "  ", "definition": HELLO}, "name"),
        ({"name": "x" * 101, "definition": HELLO}, "name"),
        ({"name": "a\nb", "definition": HELLO}, "name"),
        ({"name": "Line"}, "definition"),
        ({"name": "Line", "definition": "steps"}, "definition"),
    ],
)
def test_bad_fields_are_named(owner, body, field):
    response = owner.post("/v1/flows", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_malformed_json_and_non_object_bodies_get_clear_errors(owner):
    malformed = owner.post("/v1/flows", '{"name": "x", "definition": ', content_type="application/json")
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "malformed_request")
    listed = owner.post("/v1/flows", [1, 2], format="json")
    assert (listed.status_code, listed.json()["error"]["code"]) == (400, "invalid")
    assert not CallFlow.objects.exists()


def test_a_second_flow_with_the_same_name_is_a_conflict(owner, flow):
    response = create(owner)
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"name": ["taken"]}


def test_an_api_key_of_the_project_manages_its_flows(project, api_key):
    client = key_client(api_key)
    created = create(client)
    assert created.status_code == 201, created.content
    flow_id = created.json()["id"]
    assert created.json()["versions"][0]["created_by"] is None
    assert client.post(f"/v1/flows/{flow_id}/versions", {"definition": GOODBYE}, format="json").status_code == 201
    assert client.post(f"/v1/flows/{flow_id}/activate", {"version": 2}, format="json").json()["active_version"] == 2
    assert [item["id"] for item in client.get("/v1/flows").json()["results"]] == [flow_id]


def test_an_api_key_without_the_flows_scope_is_refused(alice, project):
    _, key = services.api_key_create(project=project, actor=alice, name="sms only", scopes=["messages"])
    response = create(key_client(key))
    assert response.status_code == 403
    assert key_client(key).get("/v1/flows").status_code == 403


def test_a_member_may_read_flows_but_only_owners_change_them(bob, flow):
    member = api_client_for(bob)
    assert member.get(f"/v1/flows/{flow['id']}").status_code == 200
    assert create(member, name="Mine").status_code == 403
    assert member.post(f"/v1/flows/{flow['id']}/versions", {"definition": GOODBYE}, format="json").status_code == 403
    assert member.post(f"/v1/flows/{flow['id']}/activate", {"version": 1}, format="json").status_code == 403


def test_someone_outside_the_project_cannot_see_or_touch_its_flows(carol, project, flow):
    outsider = api_client_for(carol)
    header = {"HTTP_FASTSOCK_PROJECT": str(project.pk)}
    assert outsider.get(f"/v1/flows/{flow['id']}", **header).status_code == 404
    assert outsider.get("/v1/flows", **header).status_code == 404
    assert create(outsider, **header).status_code == 404
    # In a project of her own, alice's flow does not exist either.
    services.project_create(owner=carol, name="Carol's")
    assert outsider.get(f"/v1/flows/{flow['id']}").status_code == 404
    assert outsider.post(f"/v1/flows/{flow['id']}/activate", {"version": 1}, format="json").status_code == 404
    assert outsider.post(f"/v1/flows/{flow['id']}/versions", {"definition": GOODBYE}, format="json").status_code == 404


def test_another_projects_key_sees_a_404_for_this_projects_flow(carol, flow):
    other = services.project_create(owner=carol, name="Carol's")
    _, key = services.api_key_create(project=other, actor=carol, name="k")
    assert key_client(key).get(f"/v1/flows/{flow['id']}").status_code == 404
    assert key_client(key).get(f"/v1/flows/{flow['id']}/versions/1").status_code == 404


def test_a_version_of_another_projects_flow_cannot_be_activated(alice, carol, project, flow):
    other = services.project_create(owner=carol, name="Carol's")
    theirs = flow_services.call_flow_create(project=other, actor=carol, name="Theirs", definition=GOODBYE)
    mine = CallFlow.objects.get(pk=flow["id"])
    with pytest.raises(ApiError) as refused:
        flow_services.call_flow_activate(flow=mine, version=theirs.active_version)
    assert refused.value.status == 404
    assert CallFlow.objects.get(pk=flow["id"]).active_version.number == 1


def test_requests_without_credentials_are_refused(api_client):
    assert api_client.get("/v1/flows").status_code == 401
    assert create(api_client).status_code == 401


def test_flow_writes_are_rate_limited_per_project(owner, rate):
    rate("telecom.flows.project", "2/m")
    assert create(owner, name="One").status_code == 201
    assert create(owner, name="Two").status_code == 201
    limited = create(owner, name="Three")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert owner.get("/v1/flows").status_code == 200  # reads are not counted
    assert CallFlow.objects.count() == 2


def test_flow_writes_are_rate_limited_per_key(project, api_key, rate):
    rate("telecom.flows.key", "1/m")
    client = key_client(api_key)
    assert create(client, name="One").status_code == 201
    assert create(client, name="Two").status_code == 429


def test_an_idempotency_key_makes_a_retried_create_return_the_first_flow(owner):
    first = create(owner, HTTP_IDEMPOTENCY_KEY="flow-1")
    again = create(owner, HTTP_IDEMPOTENCY_KEY="flow-1")
    assert (again.status_code, again["Idempotent-Replayed"]) == (201, "true")
    assert again.json()["id"] == first.json()["id"]
    assert CallFlow.objects.count() == 1
    assert create(owner, name="Other", HTTP_IDEMPOTENCY_KEY="flow-1").status_code == 409


def test_a_saved_version_can_never_change(flow):
    version = CallFlowVersion.objects.get(flow_id=flow["id"])
    version.definition = GOODBYE
    with pytest.raises(ImmutableVersionError):
        version.save()
    assert CallFlowVersion.objects.get(pk=version.pk).definition == HELLO


def test_the_flow_endpoints_are_in_the_openapi_schema(owner):
    schema = owner.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/v1/flows", "/v1/flows/{flow_id}", "/v1/flows/{flow_id}/versions", "/v1/flows/{flow_id}/activate"):
        assert path in paths
    flow_input = schema.json()["components"]["schemas"]["FlowInput"]
    assert set(flow_input["required"]) == {"name", "definition"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_new_versions_get_distinct_numbers(alice, project):
    flow = flow_services.call_flow_create(project=project, actor=alice, name="Busy", definition=HELLO)
    errors: list[BaseException] = []

    def add() -> None:
        try:
            flow_services.call_flow_version_add(flow=flow, actor=alice, definition=GOODBYE)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=add) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(flow.versions.values_list("number", flat=True)) == [1, 2, 3, 4, 5, 6, 7]

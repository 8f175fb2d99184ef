"""Real responses carry exactly the fields the OpenAPI schema documents."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework import serializers

from chat import selectors, services
from chat.api import schema
from fastsock.core.testing import api_client_for

pytestmark = pytest.mark.django_db


def assert_shape(data: Any, documented: serializers.Serializer | serializers.ListSerializer, path: str = "$") -> None:
    if isinstance(documented, serializers.ListSerializer):
        assert isinstance(data, list), path
        for index, item in enumerate(data):
            assert_shape(item, documented.child, f"{path}[{index}]")
        return
    if data is None:
        assert documented.allow_null, f"{path} is null but not documented as nullable"
        return
    assert set(data) == set(documented.fields), f"{path}: {sorted(set(data) ^ set(documented.fields))}"
    for name, field in documented.fields.items():
        if isinstance(field, serializers.BaseSerializer):
            assert_shape(data[name], field, f"{path}.{name}")


def test_responses_match_the_documented_schemas(alice, bob):
    room = services.room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    first, _ = services.message_send(membership=selectors.membership_for(room_id=room.pk, user=alice), content="q?")
    services.message_send(
        membership=selectors.membership_for(room_id=room.pk, user=bob), content="a!", reply_to_id=first.pk
    )
    client = api_client_for(bob)
    client.post(f"/api/v1/messages/{first.pk}/reactions", {"emoji": "👍"}, format="json")
    client.post(f"/api/v1/rooms/{room.pk}/read", {}, format="json")
    checks = [
        ("/api/v1/rooms", schema.RoomPageSchema()),
        (f"/api/v1/rooms/{room.pk}", schema.RoomDetailSchema()),
        (f"/api/v1/rooms/{room.pk}/members", schema.MembersSchema()),
        (f"/api/v1/history/room/{room.pk}", schema.HistoryPageSchema()),
        (f"/api/v1/messages/{first.pk}", schema.MessageSchema()),
        (f"/api/v1/messages/{first.pk}/receipts", schema.ReceiptsSchema()),
        (f"/api/v1/messages/{first.pk}/edits", schema.EditsSchema()),
    ]
    for url, documented in checks:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_shape(response.json(), documented, url)
    direct = api_client_for(alice).post("/api/v1/rooms/direct", {"user_id": bob.pk}, format="json").json()
    assert_shape(direct, schema.RoomDetailSchema(), "rooms/direct")

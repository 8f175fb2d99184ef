"""Hand-written SQL for hot paths stores and loads rows exactly as the ORM would."""

from __future__ import annotations

import pytest
from django.db import connection

from chat.models import Message
from chat.services import room_create_group
from fastsock.core.sql import ModelColumns

pytestmark = pytest.mark.django_db

MESSAGES = ModelColumns(Message)


def test_insert_gives_ids_in_order_and_stores_what_the_orm_would(alice, bob):
    room = room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    drafts = [
        Message(room=room, sender=alice, content="first", client_id="c-1"),
        Message(room=room, sender=bob, content="second"),
        Message(room=room, sender=alice, content="third", type=Message.Type.TEXT, client_id="c-3"),
    ]
    MESSAGES.insert(drafts)
    ids = [draft.pk for draft in drafts]
    assert ids == sorted(ids)
    assert all(draft.created_at is not None for draft in drafts)  # auto_now_add ran
    for draft in drafts:
        stored = Message.objects.get(pk=draft.pk)
        for field in Message._meta.concrete_fields:
            assert getattr(stored, field.attname) == getattr(draft, field.attname), field.name
        assert not draft._state.adding


def test_load_converts_each_column_as_a_queryset_does(alice, bob):
    room = room_create_group(creator=alice, name="Team", member_ids=[bob.pk])
    draft = Message(room=room, sender=alice, content="hello")
    MESSAGES.insert([draft])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {MESSAGES.select('m')} FROM chat_message AS m WHERE m.id = %s", [draft.pk])  # noqa: S608
        loaded = MESSAGES.load(cursor.fetchone())
    expected = Message.objects.get(pk=draft.pk)
    for field in Message._meta.concrete_fields:
        value = getattr(loaded, field.attname)
        assert value == getattr(expected, field.attname), field.name
        assert type(value) is type(getattr(expected, field.attname)), field.name  # datetimes, not text

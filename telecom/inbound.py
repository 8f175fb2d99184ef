"""Inbound SMS: stored once, routed by the project's rules into a chat room, answered from it.

A route that names a room posts there. A route that names a person gets a room per phone
conversation (their number and ours), made on the first message, where the phone appears as a
contact that cannot log in; what members write in that room goes back to the phone as SMS.
Messages no route takes are kept (``room`` empty) for the admin to see.

An MMS's media are fetched and stored as chat attachments (:mod:`telecom.inbound_media`) and
shown with the message; unroutable messages keep theirs too. A medium that cannot be had is
noted on the message and in the room, and never loses the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.base import File
from django.db import IntegrityError, transaction

from accounts.models import User
from chat import services as chat_services
from chat.models import Membership, Message, Room
from chat.payloads import attachment_payload

from . import encoding, inbound_media, services
from .models import Connector, InboundRoute, PhoneNumber, ProviderEvent, SmsConversation, SmsMessage, new_sid


def normalize(address: str) -> str:
    """Gateways report numbers with or without the ``+`` (Jasmin: digits only)."""
    address = address.strip()
    return address if address.startswith("+") else f"+{address}"


def _route_for(number: PhoneNumber, sender: str, body: str) -> InboundRoute | None:
    first_word = (body.split() or [""])[0].upper()
    for route in InboundRoute.objects.filter(project=number.project).select_related("target_user", "target_room"):
        if (
            (route.match == InboundRoute.Match.NUMBER and route.pattern == number.e164)
            or (route.match == InboundRoute.Match.SENDER and route.pattern == sender)
            or (route.match == InboundRoute.Match.PREFIX and sender.startswith(route.pattern))
            or (route.match == InboundRoute.Match.KEYWORD and first_word == route.pattern.upper())
        ):
            return route
    return None


def _contact(phone: str) -> User:
    """The stand-in user for a phone number: inactive, no usable password, named by the number."""
    username = f"sms_{phone.lstrip('+')}"
    contact, _ = User.objects.get_or_create(
        username=username, defaults={"display_name": phone, "is_active": False, "password": make_password(None)}
    )
    return contact


def _conversation(number: PhoneNumber, phone: str, person: User) -> SmsConversation:
    existing = SmsConversation.objects.filter(project=number.project, our_number=number.e164, their_number=phone)
    conversation = existing.select_related("room", "contact").first()
    if conversation is not None:
        return conversation
    room = chat_services.room_create_group(creator=person, name=f"SMS {phone}", member_ids=[])
    try:
        with transaction.atomic():
            return SmsConversation.objects.create(
                project=number.project, our_number=number.e164, their_number=phone, room=room, contact=_contact(phone)
            )
    except IntegrityError:  # the same phone wrote twice at once: keep the first room
        Room.objects.filter(pk=room.pk).delete()
        return existing.select_related("room", "contact").get()


def sms_receive(*, connector: Connector, inbound: Any, files: Sequence[File] = ()) -> SmsMessage | None:
    """Store an inbound message once (per gateway message id) with its media, and route it;
    None for a repeat.

    ``files`` are media the gateway sent as multipart parts, ``inbound.media_urls`` media it
    linked. They are fetched and stored within the transaction that claims the gateway's
    message id, so a repeated callback, even one that comes while the first is still fetching,
    finds the id taken and fetches nothing.
    """
    phone, to = normalize(inbound.from_), normalize(inbound.to)
    number = PhoneNumber.objects.select_related("project").filter(e164=to).first()
    offered = len(inbound.media_urls) + len(files)
    with transaction.atomic():
        try:
            with transaction.atomic():
                event = ProviderEvent.objects.create(
                    connector=connector, kind="mo", provider_event_id=inbound.provider_message_id, raw=dict(inbound.raw)
                )
        except IntegrityError:
            return None  # the gateway delivered it again
        if number is None:
            return None  # not our number: the event (with any media links) is kept for the admin
        info = encoding.encode_info(inbound.body)
        message = SmsMessage.objects.create(
            # An MMS is one whatever becomes of its media; a sid is never changed once given.
            sid=new_sid("MM") if offered else None,
            project=number.project,
            direction=SmsMessage.Direction.INBOUND,
            from_number=phone,
            to_number=to,
            body=inbound.body,
            encoding=info.encoding,
            segments=info.segments,
            status=SmsMessage.Status.RECEIVED,
            connector=connector,
            provider_message_id=inbound.provider_message_id,
        )
        ProviderEvent.objects.filter(pk=event.pk).update(message=message)
        media = inbound_media.StoredMedia()
        try:
            if offered:
                media = _media_store(message, inbound.media_urls, files, contact=_contact(phone), total=offered)
            _route(message, number, phone, inbound.body, media)
        except BaseException:
            inbound_media.media_discard(media.attachments)  # the rows roll back; the files must go too
            raise
    return message


def _media_store(
    message: SmsMessage, urls: Sequence[str], files: Sequence[File], *, contact: User, total: int
) -> inbound_media.StoredMedia:
    """Store the media as the phone's attachments; the message keeps their (access-checked)
    links, and a note of those that could not be had."""
    media = inbound_media.inbound_media_store(urls=urls, files=files, uploader=contact, sid=message.sid)
    changes: dict[str, Any] = {
        "media_urls": [f"{settings.PUBLIC_BASE_URL}{attachment_payload(a)['url']}" for a in media.attachments]
    }
    if media.failures:
        changes["error_code"] = "media_failed"
        changes["error_message"] = inbound_media.failure_summary(media.failures, total=total)[:300]
    SmsMessage.objects.filter(pk=message.pk).update(**changes)
    return media


def _route(message: SmsMessage, number: PhoneNumber, phone: str, body: str, media: inbound_media.StoredMedia) -> None:
    route = _route_for(number, phone, body)
    if route is None:
        return  # unroutable: kept (media included), visible in the admin
    if route.target_room_id is not None:
        room, contact = route.target_room, _contact(phone)
    else:
        conversation = _conversation(number, phone, route.target_user)
        room, contact = conversation.room, conversation.contact
    chat_message = chat_services.room_message_post_from_outside(
        room=room, sender=contact, content=body, type=Message.Type.SMS, attachments=media.attachments
    )
    if media.failures:
        chat_services.room_note_post(room=room, content=inbound_media.failure_note(media.failures))
    SmsMessage.objects.filter(pk=message.pk).update(room=room, chat_message=chat_message)


def replies_from_chat(messages: list[Message]) -> None:
    """After commit: what members wrote in SMS conversation rooms goes back to the phone."""
    room_ids = {message.room_id for message in messages if message.type == Message.Type.TEXT}
    if not room_ids:
        return
    conversations = {c.room_id: c for c in SmsConversation.objects.filter(room_id__in=room_ids)}
    for message in messages:
        conversation = conversations.get(message.room_id)
        if conversation is None or message.type != Message.Type.TEXT or message.sender_id == conversation.contact_id:
            continue
        if not Membership.objects.filter(room_id=message.room_id, user_id=message.sender_id).exists():
            continue
        info = encoding.encode_info(message.content)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    reply = SmsMessage.objects.create(
                        project=conversation.project,
                        direction=SmsMessage.Direction.OUTBOUND_REPLY,
                        from_number=conversation.our_number,
                        to_number=conversation.their_number,
                        body=message.content,
                        encoding=info.encoding,
                        segments=info.segments,
                        room_id=message.room_id,
                        chat_message=message,
                    )
            except IntegrityError:
                continue  # already turned into an SMS
            services.enqueue_send(reply)

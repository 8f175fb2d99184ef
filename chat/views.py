"""The chat page: the server renders the shell and the first room list; static/chat/js runs it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from fastsock.core import presence, streams
from fastsock.core.errors import ApiError

from . import payloads, selectors

ROOMS_ON_PAGE = 500


@login_required
def chat_home(request: HttpRequest, room_id: int | None = None) -> HttpResponse:
    user = request.user
    # Read before the rooms: the socket resumes from here, so whatever changes while the page
    # renders arrives as events (possibly repeating what the page shows, which clients dedupe).
    stream_seq = streams.stream_position(user_id=user.pk)[0]
    memberships = selectors.membership_list(user=user, limit=ROOMS_ON_PAGE)
    peers = selectors.direct_peers(room_ids=[m.room_id for m in memberships], user=user)
    online = presence.online_user_ids(user_ids=[peer.pk for peer in peers.values()])
    rooms = []
    for membership in memberships:
        peer = peers.get(membership.room_id)
        room = payloads.room_payload(
            membership.room,
            membership=membership,
            unread_count=membership.unread_count,
            peer=peer,
            last_message=membership.room.last_message,
        )
        if peer is not None:
            # Only the peer of a direct room: a person whose room the viewer shares.
            room["peer"]["online"] = peer.pk in online
            room["peer"]["avatar_url"] = payloads.avatar_url(f"/api/v1/users/{peer.pk}/avatar", peer.avatar)
        rooms.append(room)
    current = None
    if room_id is not None:
        # Not a member and no such room look the same: nobody learns which rooms exist.
        current = next((room for room in rooms if room["id"] == room_id), None)
        if current is None:  # beyond the first page of rooms, or not theirs
            try:
                membership = selectors.membership_for(room_id=room_id, user=user)
            except ApiError:
                raise Http404("No such room.") from None
            current = payloads.room_payload(membership.room, membership=membership)
            rooms.append(current)
    bootstrap: dict[str, Any] = {
        "me": {
            **(payloads.user_summary(user) or {}),
            "avatar_url": payloads.avatar_url(f"/api/v1/users/{user.pk}/avatar", user.avatar),
        },
        "rooms": rooms,
        "current_room_id": room_id,
        "stream_seq": stream_seq,
        "calls": {
            "ice_transport_policy": settings.CALL_ICE_TRANSPORT_POLICY,
            # Group calls need Janus; without it the page offers none rather than failing on join.
            "group_calls": bool(settings.JANUS_URL and settings.JANUS_ADMIN_URL and settings.JANUS_ADMIN_SECRET),
        },
        "limits": {
            "upload_max_bytes": settings.UPLOAD_MAX_BYTES,
            "message_max_length": settings.CHAT_MESSAGE_MAX_LENGTH,
            "typing_repeat_seconds": settings.TYPING_REPEAT_SECONDS,
        },
    }
    return render(request, "chat/home.html", {"rooms": rooms, "current": current, "bootstrap": bootstrap})

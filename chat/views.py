"""The chat pages (the full conversation UI arrives with the web chat work)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import payloads, selectors


@login_required
def chat_home(request: HttpRequest, room_id: int | None = None) -> HttpResponse:
    memberships = selectors.membership_list(user=request.user, limit=500)
    peers = selectors.direct_peers(room_ids=[m.room_id for m in memberships], user=request.user)
    rooms = [
        payloads.room_payload(m.room, membership=m, unread_count=m.unread_count, peer=peers.get(m.room_id))
        for m in memberships
    ]
    current = None
    if room_id is not None:
        # Not a member and no such room look the same: nobody learns which rooms exist.
        current = next((room for room in rooms if room["id"] == room_id), None)
        if current is None:
            raise Http404("No such room.")
    return render(request, "chat/home.html", {"rooms": rooms, "current": current})

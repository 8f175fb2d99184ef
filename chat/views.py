"""The chat pages (the full conversation UI arrives with the web chat work)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import selectors


@login_required
def chat_home(request: HttpRequest, room_id: int | None = None) -> HttpResponse:
    rooms = list(selectors.room_list_for_user(user=request.user).prefetch_related("members"))
    current = None
    if room_id is not None:
        # Not a member and no such room look the same: nobody learns which rooms exist.
        current = next((room for room in rooms if room.pk == room_id), None)
        if current is None:
            raise Http404("No such room.")
    for room in rooms:
        room.title = room.name or ", ".join(
            member.name for member in room.members.all() if member.pk != request.user.pk
        )
    return render(request, "chat/home.html", {"rooms": rooms, "current": current})

"""Back office for calls: a read-only record of every call, its timeline and its seats.

Calls change only through their state machine (calls.services, calls.group); the one action
here ends live group calls the proper way (tokens revoked, the Janus room destroyed).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import group
from .models import Call, CallEvent, CallParticipant


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CallEventInline(ReadOnlyInline):
    model = CallEvent
    fields = ["at", "kind", "user", "data"]
    readonly_fields = fields
    verbose_name_plural = "timeline"


class CallParticipantInline(ReadOnlyInline):
    model = CallParticipant
    fields = ["user", "joined_at", "left_at", "token_expires_at"]
    readonly_fields = fields
    verbose_name_plural = "seats (group calls)"


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "media", "room", "caller", "callee", "state", "outcome", "duration", "created_at"]
    list_filter = ["kind", "media", "state", "outcome", "created_at"]
    search_fields = ["caller__username", "callee__username", "room__name"]
    date_hierarchy = "created_at"
    inlines = [CallEventInline, CallParticipantInline]
    list_select_related = ["room", "caller", "callee"]
    actions = ["end_group_calls"]
    # Device channel names and the SFU room secret are internal: never shown.
    exclude = ["caller_device", "callee_device", "sfu_room_secret"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="duration")
    def duration(self, call: Call) -> str:
        seconds = call.duration_seconds
        return "" if seconds is None else f"{seconds // 60}:{seconds % 60:02d}"

    @admin.action(description="End the selected live group calls")
    def end_group_calls(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        live = list(queryset.filter(kind=Call.Kind.GROUP).exclude(state=Call.State.ENDED))
        for call in live:
            group.group_call_end(call=call, reason="ended", ended_by=request.user)
        self.message_user(request, f"Ended {len(live)} group call(s).", messages.SUCCESS)

"""Back office for moderators: rooms, memberships, messages and attachments.

Changes that have rules go through chat.services: deleting messages leaves tombstones, exactly
as a room admin's delete does, instead of removing rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from . import services
from .models import Attachment, Membership, Message, MessageEdit, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "notification_level", "joined_at", "last_read_message_id", "last_read_at"]
    readonly_fields = ["joined_at", "last_read_message_id", "last_read_at"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "name", "member_count", "created_by", "last_activity_at", "created_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["name", "memberships__user__username"]
    readonly_fields = ["direct_key", "created_at", "updated_at", "last_message", "last_activity_at"]
    autocomplete_fields = ["created_by"]
    inlines = [MembershipInline]
    date_hierarchy = "last_activity_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Room]:
        return super().get_queryset(request).annotate(member_total=Count("memberships", distinct=True))

    @admin.display(ordering="member_total", description="members")
    def member_count(self, room: Room) -> int:
        return room.member_total  # type: ignore[attr-defined]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        for membership in formset.new_objects + [changed for changed, _fields in formset.changed_objects]:
            if isinstance(membership, Membership):
                services.membership_recount_unread(membership=membership)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "user", "role", "notification_level", "joined_at", "last_read_at"]
    list_filter = ["role", "notification_level", "room__kind"]
    search_fields = ["user__username", "user__display_name", "room__name"]
    autocomplete_fields = ["user", "room"]
    list_select_related = ["room", "user"]
    readonly_fields = [
        "joined_at", "last_read_message_id", "last_read_at", "last_delivered_message_id", "last_delivered_at",
        "unread_count",
    ]  # fmt: skip

    def save_model(self, request: HttpRequest, membership: Membership, form: Any, change: bool) -> None:
        super().save_model(request, membership, form, change)
        services.membership_recount_unread(membership=membership)  # its room or person may have changed


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Deleted (tombstones)"), ("no", "Live")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class MessageEditInline(admin.TabularInline):
    model = MessageEdit
    extra = 0
    can_delete = False
    fields = ["previous_content", "edited_by", "edited_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "sender", "type", "excerpt", "created_at", "edited_at", "is_deleted"]
    list_filter = ["type", DeletedFilter, "room__kind", "created_at"]
    search_fields = ["content", "sender__username", "room__name"]
    list_select_related = ["room", "sender"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "room", "sender", "type", "content", "attachment", "reply_to", "client_id", "created_at", "edited_at",
        "deleted_at", "deleted_by",
    ]  # fmt: skip
    inlines = [MessageEditInline]
    actions = ["tombstone_messages"]
    show_full_result_count = False  # COUNT(*) over millions of rows on every page is not worth it

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        # Hard deletes would tear holes in history; moderators leave tombstones instead.
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="content")
    def excerpt(self, message: Message) -> str:
        return message.content[:80]

    @admin.display(boolean=True, description="deleted")
    def is_deleted(self, message: Message) -> bool:
        return message.deleted_at is not None

    @admin.action(description="Delete selected messages (leave tombstones)", permissions=["change"])
    def tombstone_messages(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        count = 0
        for message in queryset.filter(deleted_at__isnull=True):
            services.message_moderate_delete(message=message, moderator=request.user)
            count += 1
        self.message_user(request, f"{count} message(s) deleted.", messages.SUCCESS)


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["id", "original_name", "content_type", "kind", "size", "uploader", "created_at"]
    list_filter = ["kind", "content_type", "created_at"]
    search_fields = ["original_name", "sha256", "uploader__username"]
    list_select_related = ["uploader"]
    readonly_fields = [
        "uploader", "file", "original_name", "content_type", "kind", "size", "sha256", "width", "height",
        "thumbnail", "created_at",
    ]  # fmt: skip
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

from django.contrib import admin

from .models import Membership, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["joined_at", "last_read_at"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "name", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    readonly_fields = ["direct_key", "created_at", "updated_at"]
    inlines = [MembershipInline]

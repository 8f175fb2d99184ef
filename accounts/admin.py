from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "display_name", "email", "is_active", "is_staff", "last_seen", "date_joined"]
    search_fields = ["username", "display_name", "email"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Profile", {"fields": ("display_name", "avatar", "status_message", "last_seen")}),
    )
    readonly_fields = ["last_seen", "last_login", "date_joined"]

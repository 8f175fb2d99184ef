from __future__ import annotations

from django.contrib.auth.validators import UnicodeUsernameValidator
from rest_framework import serializers

from accounts.models import User
from chat.payloads import avatar_url


class UserOutput(serializers.ModelSerializer):
    """The public profile of a user, as CONTRACT.md (Accounts) names its fields."""

    avatar_url = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "avatar_url", "status_message", "last_seen"]
        read_only_fields = fields

    def get_avatar_url(self, user: User) -> str | None:
        return avatar_url(f"/api/v1/users/{user.pk}/avatar", user.avatar)


class RegisterInput(serializers.Serializer):
    username = serializers.CharField(min_length=3, max_length=150, validators=[UnicodeUsernameValidator()])
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


class ProfileUpdateInput(serializers.Serializer):
    display_name = serializers.CharField(required=False, allow_blank=True, max_length=64)
    status_message = serializers.CharField(required=False, allow_blank=True, max_length=140)


class UserSearchInput(serializers.Serializer):
    search = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=20)
    after = serializers.CharField(required=False, max_length=150)

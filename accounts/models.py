from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A FastSock user; usernames are unique regardless of case ("Alice" is "alice")."""

    display_name = models.CharField(max_length=64, blank=True)
    avatar = models.ImageField(upload_to="avatars/%Y/%m/", blank=True)
    status_message = models.CharField(max_length=140, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="accounts_user_username_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def name(self) -> str:
        """What other people see: the display name, or the username when none is set."""
        return self.display_name or self.username

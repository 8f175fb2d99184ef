from __future__ import annotations

from django.conf import settings
from django.db import models


class UserStream(models.Model):
    """Where a user's durable event stream stands: the last ``seq`` given out, and what was purged."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE)
    last_seq = models.BigIntegerField(default=0)
    # Events with seq up to this were purged; a client resuming from before it must resync.
    purged_through = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"stream of user {self.user_id} at {self.last_seq}"


class UserEvent(models.Model):
    """One durable event for one user, at position ``seq`` of that user's stream."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    event = models.CharField(max_length=64)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "seq"], name="core_userevent_user_seq_unique")]

    def __str__(self) -> str:
        return f"{self.event} #{self.seq} for user {self.user_id}"

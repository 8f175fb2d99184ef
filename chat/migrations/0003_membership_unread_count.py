from django.db import migrations, models
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce


def count_unread(apps, schema_editor):
    """Fill the new counter by the unread rule: live messages from others after the watermark."""
    Membership = apps.get_model("chat", "Membership")
    Message = apps.get_model("chat", "Message")
    unread = (
        Message.objects.filter(
            room_id=OuterRef("room_id"),
            deleted_at__isnull=True,
            sender_id__isnull=False,
            id__gt=Coalesce(OuterRef("last_read_message_id"), 0),
        )
        .exclude(sender_id=OuterRef("user_id"))
        .order_by()
        .values("room_id")
        .annotate(count=Count("id"))
        .values("count")
    )
    Membership.objects.update(unread_count=Coalesce(Subquery(unread, output_field=IntegerField()), 0))


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_message_search_vector"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="unread_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_unread, migrations.RunPython.noop),
    ]

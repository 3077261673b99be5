"""Mark the journal's existing events as handled by the notifications consumer, so
installing this app does not mail approvers about every promotion request ever
filed. Only events appended from now on are delivered."""

from django.db import migrations

CONSUMER = "notifications"
BATCH = 5000


def skip_existing(apps, schema_editor):
    Event = apps.get_model("control_plane", "Event")
    EventConsumption = apps.get_model("control_plane", "EventConsumption")
    last = 0
    while True:
        ids = list(Event.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            return
        EventConsumption.objects.bulk_create(
            [EventConsumption(event_id=pk, consumer=CONSUMER) for pk in ids], ignore_conflicts=True
        )
        last = ids[-1]


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("control_plane", "0002_append_only_journal_and_roles"),
    ]

    operations = [migrations.RunPython(skip_existing, migrations.RunPython.noop)]

from django.conf import settings
from django.db import migrations, models


def backfill_makers(apps, schema_editor):
    """The maker of each existing token, from the journal's token.created events (their
    actor); tokens issued by the shell command (no actor) keep no maker."""
    ApiToken = apps.get_model("control_plane", "ApiToken")
    Event = apps.get_model("control_plane", "Event")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    users = set(User.objects.values_list("pk", flat=True))
    for event in Event.objects.filter(type="token.created", actor__isnull=False).iterator():
        token_id = event.payload.get("token_id") if isinstance(event.payload, dict) else None
        if isinstance(token_id, int) and event.actor_id in users:
            ApiToken.objects.filter(pk=token_id, created_by__isnull=True).update(created_by_id=event.actor_id)


class Migration(migrations.Migration):
    dependencies = [
        ("control_plane", "0003_egress_journal_no_truncate"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="created_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(backfill_makers, migrations.RunPython.noop),
    ]

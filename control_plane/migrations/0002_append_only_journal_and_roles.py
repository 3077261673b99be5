from django.db import migrations

# Row triggers: UPDATE and DELETE are refused. TRUNCATE (an operator's tool, and how
# test databases are flushed) stays possible.

FORBID_SQL = """
CREATE OR REPLACE FUNCTION control_plane_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'control_plane_event is append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER control_plane_event_no_update_delete
    BEFORE UPDATE OR DELETE ON control_plane_event
    FOR EACH ROW EXECUTE FUNCTION control_plane_event_append_only();
"""
ALLOW_SQL = """
DROP TRIGGER IF EXISTS control_plane_event_no_update_delete ON control_plane_event;
DROP FUNCTION IF EXISTS control_plane_event_append_only();
"""


def forbid_changes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORBID_SQL, params=None)


def allow_changes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW_SQL, params=None)


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ("viewer", "contributor", "approver", "admin"):
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("control_plane", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunPython(forbid_changes, allow_changes),
        migrations.RunPython(create_roles, migrations.RunPython.noop),
    ]

from django.db import migrations

# TRUNCATE skips row triggers, so a statement-level trigger refuses it. One escape, for test
# databases only: Django flushes them with TRUNCATE between transactional tests. It needs both
# a database named test_* (Django's test prefix) and the session setting
# control_plane.allow_truncate = on (tests/conftest.py sets it on the test database), so a
# production database is never opened by one of them alone. See docs/security-egress.md.

FORBID_SQL = r"""
CREATE OR REPLACE FUNCTION control_plane_event_no_truncate() RETURNS trigger AS $$
BEGIN
    IF current_database() LIKE 'test\_%'
       AND coalesce(current_setting('control_plane.allow_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'control_plane_event is append-only: TRUNCATE is not allowed';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER control_plane_event_no_truncate
    BEFORE TRUNCATE ON control_plane_event
    FOR EACH STATEMENT EXECUTE FUNCTION control_plane_event_no_truncate();
"""
ALLOW_SQL = """
DROP TRIGGER IF EXISTS control_plane_event_no_truncate ON control_plane_event;
DROP FUNCTION IF EXISTS control_plane_event_no_truncate();
"""


def forbid_truncate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORBID_SQL, params=None)


def allow_truncate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ALLOW_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("control_plane", "0002_append_only_journal_and_roles")]

    operations = [migrations.RunPython(forbid_truncate, allow_truncate)]

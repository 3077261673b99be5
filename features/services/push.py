"""Push: rows written to the view's offline table and to the online store together."""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from control_plane import roles
from control_plane.errors import Conflict, Forbidden, Invalid, NotFound

from .. import online
from ..definitions import PUSH_CREATED_COLUMN, PUSH_EVENT_COLUMN
from ..models import FeatureView
from ..online_reads import store
from ..rows import check_rows
from ..sources import push_table

MAX_PUSH_ROWS = 10_000


@dataclass
class PushResult:
    offline: int  # rows stored in the offline table
    online: int  # rows that were newer than what the online store held


def push_rows(*, actor: User, view_name: str, rows: list) -> PushResult:
    """Check every row first (all or nothing), then in one transaction COPY them into the
    view's table and write them online; the transaction commits only once Redis took
    them. Redis has no rollback: if the commit then fails, online may hold rows offline
    lacks, and pushing the same rows again repairs that (both writes are idempotent by
    (key, event time, created time))."""
    if not roles.user_can(actor, roles.REGISTER):
        raise Forbidden(f"Your role does not allow '{roles.REGISTER}'.", code="permission_denied")
    view = FeatureView.objects.select_related("entity").filter(name=view_name).first()
    if view is None:
        raise NotFound(f"No feature view '{view_name}'.", code="feature_view_not_found")
    if view.source_kind != FeatureView.SourceKind.PUSH:
        raise Conflict(f"Feature view '{view_name}' reads a {view.source_kind} source; push needs a push view.",
                       code="not_a_push_view")
    if not isinstance(rows, list) or not rows:
        raise Invalid("'rows' must be a non-empty list.", details={"rows": ["Non-empty list."]})
    if len(rows) > MAX_PUSH_ROWS:
        raise Invalid(f"At most {MAX_PUSH_ROWS} rows per push.", details={"rows": ["Too many rows."]})
    keys = [(k["name"], k["type"]) for k in view.entity.join_keys]
    features = [(f["name"], f["type"]) for f in view.features]
    checked, problems = check_rows(rows, keys, features, now=timezone.now())
    if problems:
        raise Invalid(f"{len(problems)} problem(s) in the rows: {next(iter(problems))} {next(iter(problems.values()))[0]}",
                      details=problems)
    columns = [k for k, _ in keys] + [PUSH_EVENT_COLUMN, PUSH_CREATED_COLUMN] + [f for f, _ in features]
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        push_table(view.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    writer = online.Writer(store(), settings.FEATURE_ONLINE_PREFIX, view.name, features, view.ttl_seconds)
    with transaction.atomic():
        with connection.cursor() as cursor, cursor.copy(copy) as stream:
            for key_values, event, created, values in checked:
                stream.write_row((*key_values, event, created, *values))
        for key_values, event, created, values in checked:
            writer.add(key_values, online.micros(event), online.micros(created), values)
        written = writer.flush()
    return PushResult(offline=len(checked), online=written)

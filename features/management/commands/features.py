"""`manage.py features apply definitions.yaml [--dry-run] [--keep-missing] [--user NAME]`:
the plan, like `feast apply`, then the changes (what the file lacks is deleted unless
--keep-missing). Applying the same file twice changes nothing."""

import yaml
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from control_plane.errors import ServiceError
from features.services import definitions_apply

SYMBOLS = {"create": "+", "update": "~", "new_version": "+", "unchanged": "=", "delete": "-"}


class Command(BaseCommand):
    help = "Feature store definitions: apply a YAML file (entities, feature_views, feature_services)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        apply = sub.add_parser("apply", help="Plan and apply a definitions file.")
        apply.add_argument("path")
        apply.add_argument("--dry-run", action="store_true", help="Print the plan; change nothing.")
        apply.add_argument("--keep-missing", action="store_true",
                           help="Keep stored definitions the file lacks (by default they are deleted, as feast apply does).")
        apply.add_argument("--user", help="Act as this user (their role applies); default: the operator (admin).")

    def handle(self, *args, **options):
        try:
            with open(options["path"], encoding="utf-8") as handle:
                document = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc}") from None
        actor = None
        if options.get("user"):
            actor = User.objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No user '{options['user']}'.")
        try:
            plan = definitions_apply(actor=actor, document=document, dry_run=options["dry_run"],
                                     prune=not options["keep_missing"])
        except ServiceError as exc:
            details = "".join(f"\n  {k}: {'; '.join(map(str, v))}" for k, v in exc.details.items())
            raise CommandError(f"{exc.message}{details}") from None
        for item in plan:
            version = f" v{item.version}" if item.version else ""
            self.stdout.write(f"{SYMBOLS[item.action]} {item.kind} {item.name}{version}: {item.action.replace('_', ' ')}")
            for field, (old, new) in item.changes.items():
                self.stdout.write(f"    {field}: {old!r} -> {new!r}" if item.action != "create" else f"    {field}: {new!r}")
        changed = sum(1 for p in plan if p.action != "unchanged")
        verb = "would change" if options["dry_run"] else "changed"
        self.stdout.write(f"{len(plan)} definition(s), {changed} {verb}.")

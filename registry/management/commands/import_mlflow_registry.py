import json

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from control_plane.errors import ServiceError
from registry.mlflow_import import registry_import


class Command(BaseCommand):
    help = (
        "Copy registered models and versions (stages, aliases, tags, descriptions, sources) from an "
        "MLflow registry. Safe to run again: only differences are written."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="registry_uri", default="", help="Defaults to MLFLOW_TRACKING_URI.")
        parser.add_argument("--models", default="", help="Comma-separated names; all when empty.")
        parser.add_argument("--as", dest="username", required=True, help="The admin the changes are journaled as.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--keep-production",
            action="store_true",
            help="Copy Production versions as Production, without a promotion request (journaled as such). "
            "Without it they land in Staging with a promotion request filed by the --as user.",
        )

    def handle(self, *args, registry_uri, models, username, keep_production, **options):
        actor = User.objects.filter(username=username).first()
        if actor is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            report = registry_import(
                actor=actor,
                registry_uri=registry_uri,
                models=[m.strip() for m in models.split(",") if m.strip()],
                keep_production=keep_production,
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        if options["json"]:
            self.stdout.write(_json(report.as_dict()))
            return
        self.stdout.write(f"Imported from {report.registry_uri}: {report.changes} change(s).")
        for title, items in (
            ("models created", report.models_created),
            ("versions created", report.versions_created),
            ("stages changed", report.stages_changed),
            ("aliases set", report.aliases_set),
            ("updated", report.updated),
            ("promotion requests filed", report.promotion_requests),
            ("kept in Production (--keep-production)", report.production_kept),
            ("warnings", report.warnings),
        ):
            for item in items:
                self.stdout.write(f"  {title}: {item}")


def _json(data) -> str:
    return json.dumps(data, indent=2)

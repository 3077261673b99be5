from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitoring.services import predictions_purge


class Command(BaseCommand):
    help = ("Delete prediction log rows served more than --days days ago (default PREDICTION_RETENTION_DAYS): whole "
            "day partitions on PostgreSQL, rows in batches elsewhere.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.PREDICTION_RETENTION_DAYS,
                            help="Keep this many days (default PREDICTION_RETENTION_DAYS; 0 keeps everything).")
        parser.add_argument("--batch", type=int, default=10_000, help="Rows deleted per transaction (a plain table).")

    def handle(self, *args, days, batch, **options):
        if days < 0 or batch < 1:
            raise CommandError("--days must be 0 or more and --batch at least 1.")
        purged = predictions_purge(older_than_days=days, batch_size=batch)
        self.stdout.write(f"{purged} Kept: the last {days} day(s).")

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from control_plane.errors import ServiceError
from control_plane.tokens import token_create_from_shell


class Command(BaseCommand):
    help = (
        "Create an API token for any user (shell access only; journaled as made by this command); "
        "the token is printed alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--read-only", action="store_true")
        parser.add_argument("--expires-days", type=int, default=None)
        parser.add_argument("--models", default="", help="Comma-separated model names the token is limited to.")
        parser.add_argument("--serve-only", action="store_true", help="Only the serving endpoints.")

    def handle(self, *args, username, name, read_only, expires_days, models, serve_only, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            issued = token_create_from_shell(
                owner=user,
                name=name,
                read_only=read_only,
                expires_days=expires_days,
                models=[m.strip() for m in models.split(",") if m.strip()],
                serve_only=serve_only,
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        scope = "read-only" if read_only else "read-write"
        expiry = issued.token.expires_at.isoformat() if issued.token.expires_at else "never"
        self.stdout.write(f"token {issued.token.prefix} for {username}, {scope}, expires {expiry}")
        self.stdout.write(issued.secret)

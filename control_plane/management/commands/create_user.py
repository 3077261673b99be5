from django.core.management.base import BaseCommand, CommandError

from control_plane.errors import ServiceError
from control_plane.roles import ROLES
from control_plane.users import user_create


class Command(BaseCommand):
    help = "Create a user with a role (or reset an existing user's role and password)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--password", help="Generated and printed when not given.")
        parser.add_argument("--email", default="")

    def handle(self, *args, username, role, password, email, **options):
        try:
            user, used_password = user_create(username=username, role=role, password=password, email=email)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"user {user.username} role {role}")
        if not password:
            self.stdout.write(f"password {used_password}")

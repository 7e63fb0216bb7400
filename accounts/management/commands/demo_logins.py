from django.core.management.base import BaseCommand

from accounts.services import DEMO_LOGINS, DEMO_PASSWORD, demo_users_ensure


class Command(BaseCommand):
    help = "Create (or reset) the demo logins, one or more per persona, and print them."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, port: int, **options):
        demo_users_ensure()
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Tango is starting at http://127.0.0.1:{port}/"))
        self.stdout.write(f"Every demo login uses the password: {DEMO_PASSWORD}")
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.username:<12} {login.persona.label}")
        self.stdout.write("")

"""Create the demo users and each app's demo data.

Each app may have a ``demo`` module with ``seed(*, stdout)``; they run in the order of
INSTALLED_APPS, which is the layer order, so the incident core exists before monitoring's
scenario uses it. Discovering them by name keeps crisis from importing the layers above it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand

from crisis.demo import seed as seed_incident_core
from crisis.demo import seed_users


class Command(BaseCommand):
    help = "Create one demo user per role (password from DEMO_PASSWORD) and the demo data."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--users-only", action="store_true", help="Create the users, not the demo data."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_users(password=settings.DEMO_PASSWORD or None)
        if result.created:
            self.stdout.write(f"Demo users created: {', '.join(result.created)}")
            if settings.DEMO_PASSWORD:
                self.stdout.write("Their password is the value of DEMO_PASSWORD.")
            else:
                self.stdout.write(
                    self.style.WARNING(f"Demo password (shown once): {result.password}")
                )
        else:
            self.stdout.write("Demo users already exist; passwords unchanged.")
        if options["users_only"]:
            return
        seed_incident_core(stdout=self.stdout)
        for config in apps.get_app_configs():
            if config.name == "crisis" or not config.name.isidentifier():
                continue
            try:
                module = import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            module.seed(stdout=self.stdout)

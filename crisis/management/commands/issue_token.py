from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from crisis.services import api_token_issue


class Command(BaseCommand):
    help = "Issue an API token for USERNAME and print it on one line (only its hash is stored)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["username"], is_active=True)
        except User.DoesNotExist:
            raise CommandError(f"no active user {options['username']!r}") from None
        _token, raw = api_token_issue(user=user, name=options["name"] or "issue_token")
        self.stdout.write(raw)

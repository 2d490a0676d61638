from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crisis.models import ApiToken
from crisis.services import _token_hash, api_token_revoke


class Command(BaseCommand):
    help = (
        "Revoke an API token: give the token itself, its prefix (first 10 characters), "
        "or --user USERNAME to revoke all of a user's tokens."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("token", nargs="?", default="")
        parser.add_argument("--user", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        raw, username = options["token"], options["user"]
        if username:
            tokens = list(ApiToken.objects.filter(user__username=username, revoked_at__isnull=True))
        elif raw:
            tokens = list(
                ApiToken.objects.filter(key_hash=_token_hash(raw), revoked_at__isnull=True)
            ) or list(ApiToken.objects.filter(prefix=raw[:10], revoked_at__isnull=True))
        else:
            raise CommandError("give a token, its prefix, or --user USERNAME")
        if not tokens:
            raise CommandError("no such active token")
        for token in tokens:
            api_token_revoke(token=token)
        self.stdout.write(f"revoked {len(tokens)} token(s)")

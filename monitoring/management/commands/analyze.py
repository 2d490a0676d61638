"""python manage.py analyze < posts.jsonl > analysis.jsonl

Thin wrapper: the logic (and its contract) lives in ``monitoring.nlp.cli.run_analyze``.
"""

from __future__ import annotations

import sys
from argparse import RawDescriptionHelpFormatter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.nlp.cli import ANALYZE_HELP, run_analyze


class Command(BaseCommand):
    help = ANALYZE_HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Keep the line breaks of the contract in --help.
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--engine",
            choices=("fenghuo", "snownlp"),
            default=None,
            help="Sentiment engine (default: settings.SENTIMENT_ENGINE, else fenghuo).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        engine = options["engine"] or _settings_engine()
        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        try:
            run_analyze(stdin, self.stdout, engine=engine)
        except ValueError as exc:  # unknown engine name from settings / environment
            raise CommandError(str(exc)) from None


def _settings_engine() -> str | None:
    value = settings.SENTIMENT_ENGINE
    return str(value) if value else None

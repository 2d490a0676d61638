"""python manage.py ingest PATH [--source SLUG] [--format auto|jsonl|json|csv|rss]

Prints one summary line ``ingested=N duplicates=D rejected=R`` on stdout and each rejected
row (number and reason) on stderr, exit 0. A file that cannot be read, or whose content is
unusable as a whole (malformed JSON / XML / CSV, undecodable), exits 2 with the reason.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from monitoring import services
from monitoring.models import RawItem, Source

FORMATS = ("auto", "jsonl", "json", "csv", "rss")


class Command(BaseCommand):
    help = (
        "Ingest a file of mentions (JSON Lines, JSON, CSV, RSS/Atom) into the inbox and store it."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", help="The file to read ('-' for standard input).")
        parser.add_argument(
            "--source", metavar="SLUG", help="Attribute the mentions to this source."
        )
        parser.add_argument("--format", dest="fmt", choices=FORMATS, default="auto")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"]
        source = None
        if options["source"]:
            source = Source.objects.filter(slug=options["source"]).first()
            if source is None:
                raise CommandError(f"no source with the slug {options['source']!r}", returncode=2)
        try:
            body = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}", returncode=2) from None
        raw, outcome = services.ingest_payload(
            body=body,
            channel=RawItem.Channel.COMMAND,
            source=source,
            filename="" if path == "-" else Path(path).name,
            fmt=options["fmt"],
        )
        if outcome.status == RawItem.Status.FAILED:
            raise CommandError(
                f"{path}: {outcome.error} (kept as inbox payload #{raw.pk})", returncode=2
            )
        where = "line" if raw.parsed_format in ("jsonl", "csv") else "record"
        for rejection in outcome.rejected:
            self.stderr.write(f"{where} {rejection['index']}: {rejection['error']}")
        self.stdout.write(
            f"ingested={outcome.created} duplicates={outcome.duplicates} "
            f"rejected={len(outcome.rejected)}"
        )

"""python manage.py replay SCENARIO [--speed N] [--source SLUG]

Replays a scenario file (monitoring/scenarios/NAME.jsonl, or a path) into a source's inbox,
through the same inbox path as a webhook push, posts time-shifted to now.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring import services
from monitoring.models import ScenarioRun, Source


class Command(BaseCommand):
    help = "Replay a scenario of posts into a source's inbox, time-shifted to now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("scenario", help="a name in monitoring/scenarios/ or a file path")
        parser.add_argument(
            "--speed", type=float, default=1.0, help="time factor (10 = 10x faster)"
        )
        parser.add_argument("--source", default="demo-push", help="slug of the source to push to")
        parser.add_argument(
            "--background",
            action="store_true",
            help="only schedule the run; the beat task (monitoring.scenario_tick) pushes it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = Source.objects.filter(slug=options["source"]).first()
        if source is None:
            raise CommandError(f"no source with the slug {options['source']!r}")
        if options["speed"] <= 0:
            raise CommandError("--speed must be positive")
        try:
            run = services.scenario_run_create(
                scenario=options["scenario"],
                source=source,
                speed=options["speed"],
                start=not options["background"],
            )
        except services.ScenarioError as exc:
            raise CommandError(str(exc)) from exc
        if options["background"]:
            self.stdout.write(f"scheduled run {run.pk}: {run.total} posts")
            return
        pushed = 0
        while True:
            pushed += services.scenario_run_advance(run_id=run.pk, process_here=True)
            wait = services.scenario_next_due(run=run)
            if wait is None:
                break
            time.sleep(min(wait, 5.0))
        run.refresh_from_db()
        self.stdout.write(f"run {run.pk} {run.status}: pushed={pushed} of {run.total}")
        if run.status == ScenarioRun.Status.FAILED:
            raise CommandError(run.error)

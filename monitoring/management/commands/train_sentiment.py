"""python manage.py train_sentiment --data PATH [PATH ...] --out PATH [--holdout 0.2] [--seed N]
[--include-corrections]

Thin wrapper around ``monitoring.nlp.cli.run_train``; see docs/sentiment.md.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.nlp.cli import run_train
from monitoring.nlp.sentiment import DEFAULT_MODEL_PATH
from monitoring.nlp.training import DEFAULT_HOLDOUT, DEFAULT_SEED, Example
from monitoring.selectors import correction_examples


class Command(BaseCommand):
    help = (
        "Train the Fenghuo sentiment model from labelled files (formats detected per file: "
        "weibo2018 `mid,label,text`, SMP2020 JSON, review CSV `label,review`, JSONL "
        "{text,label}), hold out a seeded split of the Weibo posts, and print its metrics."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data",
            nargs="+",
            metavar="PATH",
            help="Labelled files (default: the six files of $FENGHUO_SENTIMENT_DATA or "
            "../shared/data/sentiment that the committed model was trained on).",
        )
        parser.add_argument(
            "--out",
            default=str(DEFAULT_MODEL_PATH),
            metavar="PATH",
            help="Where to write the model (default: the committed model file).",
        )
        parser.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT)
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument(
            "--include-corrections",
            action="store_true",
            help="Also train on analysts' polarity corrections stored in the database.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        extra: list[Example] = []
        if options["include_corrections"]:
            extra = _corrections()
            self.stdout.write(f"including {len(extra)} analyst corrections")
        try:
            run_train(
                data=options["data"],
                out=options["out"],
                holdout=options["holdout"],
                seed=options["seed"],
                extra=extra,
                log=self.stdout.write,
            )
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from None


def _corrections() -> list[Example]:
    """Analysts' polarity corrections as (text, 1 positive / 0 negative)."""
    return [(str(text), int(label)) for text, label in correction_examples()]

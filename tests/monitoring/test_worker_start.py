"""What a Celery worker does when it starts, before its first task."""

from __future__ import annotations

import gc

from celery.signals import worker_init

from monitoring import tasks
from monitoring.nlp import keywords, sentiment


def test_worker_start_loads_the_models_and_freezes_them_out_of_the_gc() -> None:
    assert tasks.load_models_before_work in [r() for _key, r in worker_init.receivers]
    sentiment._engines.clear()
    sentiment._models.clear()
    try:
        tasks.load_models_before_work(sender=None)
        assert sentiment._models, "the sentiment model was not loaded"
        assert keywords._idf_table is not None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()

"""Where ingest spends its time: each step of ``inbox_process``, in µs per mention.

    .venv/bin/python bench/profile_ingest.py [--mentions 10000] [--batch 1000]

Runs the store path in this process (no Celery) against the throwaway ``fenghuo_bench``
database that bench_ingest.py uses, with the same texts, after the same warm-up and the same
``gc.freeze()`` the worker does. Each step is timed by wrapping the service's own functions,
so the steps do not add up to the total exactly (the rest is glue).
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import bench_ingest as b

# Each step is wrapped where its caller looks it up.
STEPS = {
    "monitoring.services.inbox": ["inbox_parse"],
    "monitoring.services.store": [
        "_prepare",
        "_existing_mentions",
        "_analyze",
        "clusters_assign",
        "_resolve_repost_names",
        "_insert_mentions",
        "_update_mentions",
        "topics_rollup",
    ],
    "monitoring.services.clusters": ["_write_clusters"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    b.recreate_database()
    os.environ.update(b.env())
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=b.REPO,
        env=b.env(),
        check=True,
    )
    sys.path.insert(0, str(b.REPO))
    import django

    django.setup()
    import importlib

    from monitoring import nlp, services
    from monitoring.models import RawItem

    spent: collections.Counter[str] = collections.Counter()

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapper

    for module_name, names in STEPS.items():
        module = importlib.import_module(module_name)
        for name in names:
            setattr(module, name, timed(name, getattr(module, name)))

    texts = b.load_texts()
    nlp.warm_up()
    warm = services.inbox_receive(
        body=b.jsonl(b.make_records(texts[:200], 200, "warm")), channel=RawItem.Channel.WEBHOOK
    )
    services.inbox_process(raw_item_id=warm.pk)
    gc.freeze()  # as monitoring.tasks.load_models_before_work does in the worker
    records = b.make_records(texts, args.mentions, "m")
    ids = [
        services.inbox_receive(
            body=b.jsonl(records[i : i + args.batch]), channel=RawItem.Channel.WEBHOOK
        ).pk
        for i in range(0, len(records), args.batch)
    ]
    spent.clear()
    started = time.perf_counter()
    for pk in ids:
        services.inbox_process(raw_item_id=pk)
    elapsed = time.perf_counter() - started
    n = len(records)
    print(f"{n / elapsed:,.0f} mentions/s in this process, {elapsed / n * 1e6:.1f} µs each")
    print(f"load average {os.getloadavg()[0]:.2f}")
    for name, seconds in spent.most_common():
        print(f"{name:<24}{seconds / n * 1e6:8.1f} µs/mention")


if __name__ == "__main__":
    main()

"""Detection latency: a burst pushed through the webhook until the alert exists and the
incident is on the board, with a real worker and beat on Redis and PostgreSQL.

Each trial uses a fresh topic (its own keyword) carrying a quiet baseline of background
posts over the last 90 minutes (one or two a minute), then pushes 60 posts in one webhook
request (the Django test client, in this process: the view commits the inbox row and
enqueues the task on commit, as in production). The clock runs from just before the push
to the moment each row is visible in the database (polled every 20 ms).

    .venv/bin/python bench/bench_detection_latency.py [--trials 20]
    .venv/bin/python bench/bench_detection_latency.py --feed --interval 20 [--trials 10]

With --feed the burst is not pushed: it appears in a JSON Feed served from a local HTTP
server in this process, which a polled feed source (its own interval) fetches through the
real beat dispatch → poll → inbox path; the clock runs from the moment the feed changes.
Target: one interval + 5 s.

Own database (fenghuo_bench_detection, recreated), Redis db 13, own queue.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DB_NAME = "fenghuo_bench_detection"
BROKER = "redis://127.0.0.1:6379/13"
QUEUE = "fenghuo-bench-detection"
TOKEN = "bench-detection-token-0123456789"


def env() -> dict[str, str]:
    out = dict(os.environ)
    out.update(
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        CELERY_BROKER_URL=BROKER,
        CELERY_QUEUE=QUEUE,
        CELERY_TASK_ALWAYS_EAGER="0",
        FENGHUO_VAR_DIR=tempfile.mkdtemp(prefix="fenghuo-bench-detection-"),
        STATIC_MANIFEST="0",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
    )
    return out


def setup() -> None:
    import psycopg2
    import redis

    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DB_NAME}")
    conn.close()
    redis.Redis.from_url(BROKER).flushdb()
    os.environ.update(env())
    os.environ["DJANGO_SETTINGS_MODULE"] = "crisis.settings"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env(),
        check=True,
    )
    import django

    django.setup()


class FeedServer:
    """A JSON Feed on 127.0.0.1 whose items the bench replaces to simulate new posts."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.items: list[dict[str, object]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(
                    {
                        "version": "https://jsonfeed.org/version/1.1",
                        "title": "bench",
                        "home_page_url": "https://weibo.com/",
                        "items": server.items,
                    },
                    ensure_ascii=False,
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/feed+json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed.json"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def publish(self, posts: list[dict[str, object]]) -> None:
        """Replace the feed with ``posts`` (normalized-shape dicts) as JSON Feed items."""
        self.items = [
            {
                "id": f"https://weibo.com/1/{p['external_id']}",
                "url": f"https://weibo.com/1/{p['external_id']}",
                "content_text": p["text"],
                "date_published": p["posted_at"],
                "authors": [{"name": p["author"]["name"]}],  # type: ignore[index]
            }
            for p in posts
        ]

    def close(self) -> None:
        self.httpd.shutdown()


def start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "crisis", *args],
        cwd=REPO,
        env=env(),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--feed", action="store_true", help="burst through a polled JSON Feed")
    parser.add_argument("--interval", type=int, default=20, help="feed poll interval, seconds")
    options = parser.parse_args()
    setup()
    feed = FeedServer() if options.feed else None

    from django.test import Client
    from django.utils import timezone

    from crisis.models import Incident
    from monitoring import services
    from monitoring.ingest import NormalizedItem
    from monitoring.models import Alert, Source

    source, _ = services.source_create(
        name="bench", slug="bench", kind=Source.Kind.WEBHOOK, platform="weibo"
    )
    services.source_set_token(source=source, token=TOKEN)
    if feed is not None:
        services.source_create(
            name="bench feed",
            slug="bench-feed",
            kind=Source.Kind.FEED,
            platform="weibo",
            url=feed.url,
            interval_seconds=options.interval,
        )
    logs = Path(tempfile.mkdtemp(prefix="fenghuo-bench-detection-logs-"))
    worker = start(
        ["worker", "--loglevel=WARNING", "--concurrency=2", "--without-gossip", "--without-mingle"],
        logs / "worker.log",
    )
    beat = start(
        ["beat", "--loglevel=WARNING", "-s", str(logs / "beat-schedule")], logs / "beat.log"
    )
    client = Client()
    rng = random.Random(7)
    alert_s: list[float] = []
    incident_s: list[float] = []
    seconds_in_minute: list[float] = []
    try:
        time.sleep(6)  # worker and beat up
        for trial in range(options.trials):
            brand = f"品牌{trial:02d}号"
            topic = services.topic_create(name=brand, query=brand)
            now = timezone.now()
            quiet = [
                NormalizedItem(
                    external_id=f"q{trial}-{i}",
                    platform="weibo",
                    text=f"{brand}今天的第{i}条日常分享",
                    posted_at=now
                    - timedelta(minutes=90)
                    + timedelta(seconds=i * 45 + rng.uniform(0, 30)),
                    author_name=f"路人{i}",
                    author_followers=100,
                )
                for i in range(115)
            ]
            services.mentions_store(items=quiet, source_id=source.pk, detect=False)
            services.topic_detect(topic_id=topic.pk)  # warm the baseline from the quiet history
            time.sleep(rng.uniform(1.0, 8.0))
            posted = timezone.now()
            body = json.dumps(
                {
                    "items": [
                        {
                            "external_id": f"b{trial}-{i}",
                            "platform": "weibo",
                            "text": f"{brand}门店第{i}单又出问题了，太差了",
                            "posted_at": posted.isoformat(),
                            "author": {"name": f"顾客{trial}-{i}", "followers": 30},
                        }
                        for i in range(options.burst)
                    ]
                },
                ensure_ascii=False,
            )
            t0 = time.perf_counter()
            seconds_in_minute.append(posted.second + posted.microsecond / 1e6)
            if feed is not None:
                feed.publish(json.loads(body)["items"])
            else:
                response = client.post(
                    "/api/v1/sources/bench/mentions",
                    data=body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
                )
                assert response.status_code == 202, response.content
            got_alert = got_incident = None
            deadline = t0 + 60 + (options.interval if feed is not None else 0)
            while time.perf_counter() < deadline and (got_alert is None or got_incident is None):
                if got_alert is None and Alert.objects.filter(topic=topic).exists():
                    got_alert = time.perf_counter() - t0
                if (
                    got_incident is None
                    and Incident.objects.filter(
                        monitoring_alerts__topic=topic, status="detected"
                    ).exists()
                ):
                    got_incident = time.perf_counter() - t0
                time.sleep(0.02)
            kinds = list(Alert.objects.filter(topic=topic).values_list("kind", flat=True))
            print(
                f"trial {trial:2d}: +{seconds_in_minute[-1]:4.1f}s into the minute  "
                f"alert {got_alert}  incident {got_incident}  {kinds}"
            )
            if got_alert is not None:
                alert_s.append(got_alert)
            if got_incident is not None:
                incident_s.append(got_incident)
    finally:
        for proc in (beat, worker):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def pct(values: list[float]) -> str:
        import statistics

        if not values:
            return "n=0"
        ordered = sorted(values)
        q = (
            statistics.quantiles(ordered, n=100, method="inclusive")
            if len(ordered) > 1
            else [ordered[0]] * 99
        )
        median = statistics.median(ordered)
        return f"n={len(ordered)} p50={median:.2f}s p95={q[94]:.2f}s max={ordered[-1]:.2f}s"

    print(f"\nburst of {options.burst} posts, {options.trials} trials")
    print(f"push -> alert exists:        {pct(alert_s)}")
    print(f"push -> incident on board:   {pct(incident_s)}")
    missed_alerts, missed_incidents = (
        options.trials - len(alert_s),
        options.trials - len(incident_s),
    )
    print(f"missed: alert {missed_alerts}, incident {missed_incidents}")
    if feed is not None:
        print(f"polled feed, interval {options.interval}s: target alert <= {options.interval + 5}s")
        feed.close()


if __name__ == "__main__":
    main()

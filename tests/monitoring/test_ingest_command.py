"""`manage.py ingest`: every fixture format end to end, the summary line, exit codes."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from monitoring import services
from monitoring.models import Mention, RawItem, Source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"
SUMMARY = re.compile(r"^ingested=(\d+) duplicates=(\d+) rejected=(\d+)$")

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[tuple[int, int, int], str]:
    out, err = StringIO(), StringIO()
    call_command("ingest", *args, stdout=out, stderr=err)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1, out.getvalue()
    match = SUMMARY.match(lines[0])
    assert match, lines[0]
    counts = (int(match[1]), int(match[2]), int(match[3]))
    return counts, err.getvalue()


GOOD_FILES = [
    # file, format option, platform expected on the stored mentions (None: several)
    ("normalized.jsonl", "auto", None),
    ("normalized_batch.json", "auto", None),
    ("normalized_flat.csv", "auto", None),
    ("weibo_crawler.json", "auto", "weibo"),
    ("weibo_crawler.csv", "csv", "weibo"),
    ("weibo_search_gbk.csv", "auto", "weibo"),
    ("mediacrawler_douyin.json", "json", "douyin"),
    ("mediacrawler_weibo.csv", "auto", "weibo"),
    ("mediacrawler_xhs.jsonl", "jsonl", "xiaohongshu"),
    ("rsshub_weibo.xml", "rss", "weibo"),
    ("rsshub_douyin_gb18030.xml", "auto", "douyin"),
    ("atom_news.xml", "auto", None),
    ("jsonfeed.json", "auto", None),
]


@pytest.mark.parametrize(("name", "fmt", "platform"), GOOD_FILES)
def test_each_format_end_to_end(name: str, fmt: str, platform: str | None) -> None:
    (created, duplicates, rejected), err = run(str(FIXTURES / name), "--format", fmt)
    assert created > 0
    assert created == Mention.objects.count()
    assert len(err.strip().splitlines()) == rejected if rejected else err.strip() == ""
    for line in err.strip().splitlines():
        assert re.match(r"^(line|record) \d+: .+", line), line
    if platform:
        assert set(Mention.objects.values_list("platform", flat=True)) == {platform}
    assert all(m.text for m in Mention.objects.all())
    raw = RawItem.objects.get()
    assert raw.status == RawItem.Status.DONE and raw.channel == RawItem.Channel.COMMAND
    # the same file again stores nothing new
    (created2, duplicates2, rejected2), _err = run(str(FIXTURES / name), "--format", fmt)
    assert created2 == 0
    assert duplicates2 == created + duplicates
    assert rejected2 == rejected
    assert Mention.objects.count() == created


def test_rejected_rows_are_reported_with_number_and_reason() -> None:
    (_created, duplicates, rejected), err = run(str(FIXTURES / "normalized.jsonl"))
    assert rejected >= 1 and duplicates >= 1
    lines = err.strip().splitlines()
    assert len(lines) == rejected
    assert any(line.startswith("line ") for line in lines)


def test_source_option_attributes_mentions(tmp_path: Path) -> None:
    source, _ = services.source_create(
        name="Files", slug="files", kind=Source.Kind.FILE, platform="douyin"
    )
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"id": "x1", "text": "茶小满抖音直播翻车了", "posted_at": "2026-11-24T10:00:00+08:00"}\n',
        encoding="utf-8",
    )
    (created, _d, _r), _err = run(str(path), "--source", "files")
    assert created == 1
    mention = Mention.objects.get()
    assert mention.source == source and mention.platform == "douyin"


@pytest.mark.parametrize(
    "name",
    [
        "malformed.json",
        "malformed.csv",
        "malformed.xml",
        "xml_bomb.xml",
        "xxe.xml",
        "mixed_encoding.csv",
    ],
)
def test_unusable_file_exits_2_and_stores_nothing(name: str) -> None:
    with pytest.raises(CommandError) as excinfo:
        call_command("ingest", str(FIXTURES / name), stdout=StringIO(), stderr=StringIO())
    assert excinfo.value.returncode == 2
    assert str(excinfo.value)
    assert Mention.objects.count() == 0
    raw = RawItem.objects.get()  # the payload is kept, marked failed with the reason
    assert raw.status == RawItem.Status.FAILED and raw.error


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.jsonl", tmp_path):
        with pytest.raises(CommandError) as excinfo:
            call_command("ingest", str(path), stdout=StringIO(), stderr=StringIO())
        assert excinfo.value.returncode == 2
        assert "cannot read" in str(excinfo.value)
    assert RawItem.objects.count() == 0


def test_unknown_source_exits_2() -> None:
    with pytest.raises(CommandError) as excinfo:
        call_command("ingest", str(FIXTURES / "normalized.jsonl"), "--source", "nope")
    assert excinfo.value.returncode == 2


@pytest.mark.django_db(transaction=True)
def test_command_line_exit_codes(tmp_path: Path) -> None:
    """The real process: exit 0 with the summary on stdout, 2 for an unreadable file."""
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT, service_env

    ok = subprocess.run(
        [sys.executable, "manage.py", "ingest", str(FIXTURES / "normalized.jsonl")],
        cwd=REPO_ROOT,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert SUMMARY.match(ok.stdout.strip())
    missing = subprocess.run(
        [sys.executable, "manage.py", "ingest", str(tmp_path / "nope.csv")],
        cwd=REPO_ROOT,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr

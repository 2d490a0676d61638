"""The mention stream, corrections and the import page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from monitoring import services
from monitoring.ingest import NormalizedItem
from monitoring.models import Mention, RawItem, SentimentCorrection, Source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"

pytestmark = pytest.mark.django_db


def item(external_id: str, text: str, **extra: Any) -> NormalizedItem:
    values: dict[str, Any] = {
        "external_id": external_id,
        "platform": "weibo",
        "text": text,
        "posted_at": timezone.now() - timedelta(minutes=5),
        "author_name": f"作者{external_id}",
    }
    values.update(extra)
    return NormalizedItem(**values)


@pytest.fixture
def stream_data() -> None:
    copies = [
        item(f"c{i}", "茶小满奶茶喝出异物，门店拒绝退款，大家别去了！", author_id=f"a{i}")
        for i in range(6)
    ]
    services.mentions_store(
        items=[
            *copies,
            item("d1", "茶小满新品好喝，推荐", platform="douyin"),
            item("old", "很久以前的帖子", posted_at=datetime(2025, 1, 1, tzinfo=UTC)),
        ]
    )
    Mention.objects.filter(external_id="d1").update(polarity="positive")
    # The filter is under test, not the model: pin the old post's polarity.
    Mention.objects.filter(external_id="old").update(polarity="neutral")
    Mention.objects.filter(external_id__startswith="c").update(
        polarity="negative", crisis_type="complaint_outbreak"
    )


def test_stream_folds_clusters_and_filters(client: Client, analyst: Any, stream_data: None) -> None:
    client.force_login(analyst)
    page = client.get("/monitoring/").content.decode()
    assert page.count('class="mention mention-') == 3  # 6 copies folded into one entry
    assert 'data-similar="5"' in page
    cluster_id = Mention.objects.get(external_id="c0").cluster_id
    unfolded = client.get(f"/monitoring/?cluster={cluster_id}").content.decode()
    assert unfolded.count('class="mention mention-') == 6

    def count(query: str) -> int:
        return client.get(f"/monitoring/?{query}").content.decode().count('class="mention mention-')

    assert count("platform=douyin") == 1
    assert count("polarity=negative") == 1
    assert count("crisis_type=complaint_outbreak") == 1
    assert count("time_range=24h") == 2
    assert count("q=新品") == 1
    assert count("q=nothing-like-this") == 0
    assert count("platform=not-a-platform") == 3  # an invalid filter is ignored, not a 500


def test_stream_marks_negative_and_links_only_http(client: Client, analyst: Any) -> None:
    services.mentions_store(
        items=[
            item("n1", "差评", url="javascript:alert(1)"),
            item("n2", "好评", url="https://weibo.com/1/abc"),
        ]
    )
    Mention.objects.filter(external_id="n1").update(polarity="negative")
    client.force_login(analyst)
    page = client.get("/monitoring/").content.decode()
    assert 'data-polarity="negative"' in page
    assert "javascript:" not in page
    assert (
        'href="https://weibo.com/1/abc" rel="noopener noreferrer nofollow" target="_blank"' in page
    )


def test_htmx_filter_returns_the_results_partial(
    client: Client, analyst: Any, stream_data: None
) -> None:
    client.force_login(analyst)
    response = client.get("/monitoring/?platform=douyin", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="stream-results"' in body and "<html" not in body


def test_analyst_corrects_sentiment_and_type(
    client: Client, analyst: Any, stream_data: None
) -> None:
    mention = Mention.objects.get(external_id="d1")
    client.force_login(analyst)
    response = client.post(
        f"/monitoring/mentions/{mention.pk}/correct",
        {"polarity": "negative", "crisis_type": "improper_advertising", "note": "反讽"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert f'id="mention-{mention.pk}"' in response.content.decode()
    mention.refresh_from_db()
    assert (mention.polarity, mention.crisis_type) == ("negative", "improper_advertising")
    correction = SentimentCorrection.objects.get()
    assert correction.previous_polarity == "positive" and correction.corrected_by == analyst
    # nothing chosen: an error, nothing stored
    response = client.post(
        f"/monitoring/mentions/{mention.pk}/correct",
        {"polarity": "", "crisis_type": "-"},
        HTTP_HX_REQUEST="true",
    )
    assert SentimentCorrection.objects.count() == 1
    assert "form-error" in response.content.decode()


def test_correction_needs_the_capability(
    client: Client, duty_officer: Any, stream_data: None
) -> None:
    mention = Mention.objects.get(external_id="d1")
    client.force_login(duty_officer)
    assert client.get("/monitoring/").status_code == 200
    response = client.post(f"/monitoring/mentions/{mention.pk}/correct", {"polarity": "negative"})
    assert response.status_code == 403
    assert SentimentCorrection.objects.count() == 0


def test_outsider_cannot_see_the_stream(client: Client, outsider: Any) -> None:
    client.force_login(outsider)
    assert client.get("/monitoring/").status_code == 403


def test_import_page_shows_result_per_row(client: Client, analyst: Any) -> None:
    client.force_login(analyst)
    upload = SimpleUploadedFile(
        "normalized.jsonl", (FIXTURES / "normalized.jsonl").read_bytes(), "application/x-ndjson"
    )
    response = client.post("/monitoring/import/", {"file": upload, "fmt": "auto"})
    assert response.status_code == 200
    page = response.content.decode()
    raw = RawItem.objects.get()
    assert raw.channel == RawItem.Channel.UPLOAD and raw.uploaded_by == analyst
    assert f'data-count="created">{raw.created_count}<' in page
    assert raw.created_count > 0
    for rejection in raw.rejected:
        assert f"<td>{rejection['index']}</td>" in page
    assert f"?batch={raw.pk}" in page
    batch = client.get(f"/monitoring/?batch={raw.pk}").content.decode()
    assert batch.count('class="mention mention-') >= 1


@pytest.mark.parametrize("name", ["malformed.json", "xml_bomb.xml", "xxe.xml", "malformed.csv"])
def test_import_of_a_bad_file_is_a_clear_400(client: Client, analyst: Any, name: str) -> None:
    client.force_login(analyst)
    upload = SimpleUploadedFile(name, (FIXTURES / name).read_bytes())
    response = client.post("/monitoring/import/", {"file": upload, "fmt": "auto"})
    assert response.status_code == 400
    assert "form-error" in response.content.decode()
    assert Mention.objects.count() == 0
    assert RawItem.objects.get().status == RawItem.Status.FAILED


def test_import_over_the_limit_is_refused(client: Client, analyst: Any, settings: Any) -> None:
    settings.INGEST_MAX_BYTES = 1024
    client.force_login(analyst)
    upload = SimpleUploadedFile("big.jsonl", b"x" * 5000)
    response = client.post("/monitoring/import/", {"file": upload, "fmt": "auto"})
    assert response.status_code == 400
    assert RawItem.objects.count() == 0


def test_import_with_source(client: Client, analyst: Any) -> None:
    services.source_create(name="Files", slug="files", kind=Source.Kind.FILE, platform="weibo")
    client.force_login(analyst)
    upload = SimpleUploadedFile("w.json", (FIXTURES / "weibo_crawler.json").read_bytes())
    response = client.post(
        "/monitoring/import/", {"file": upload, "fmt": "json", "source": "files"}
    )
    assert response.status_code == 200
    assert set(Mention.objects.values_list("source__slug", flat=True)) == {"files"}

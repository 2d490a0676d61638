"""The webhook push: auth, every error status, exact counts, and nothing half-done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from monitoring import services
from monitoring.api import signature_for
from monitoring.models import Mention, RawItem, Source

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"
TOKEN = "test-push-token-0123456789abcdef"
URL = "/api/v1/sources/push/mentions"

pytestmark = pytest.mark.django_db


def record(external_id: str, text: str = "茶小满新品太甜了", **extra: object) -> dict[str, object]:
    return {
        "external_id": external_id,
        "platform": "weibo",
        "text": text,
        "posted_at": "2026-11-24T10:00:00+08:00",
        "author": {"id": f"u{external_id}", "name": f"用户{external_id}", "followers": 100},
        "metrics": {"reposts": 1, "comments": 2, "likes": 3},
        **extra,
    }


@pytest.fixture
def source() -> Source:
    source, _token = services.source_create(
        name="Push", slug="push", kind=Source.Kind.WEBHOOK, platform="weibo"
    )
    return services.source_set_token(source=source, token=TOKEN)


@pytest.fixture(autouse=True)
def _run_on_commit(monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks) -> None:
    """Tests run in a transaction; run the enqueue-on-commit hooks as the commit would."""
    from django.db import transaction

    def on_commit(func, using=None, robust=False):
        func()

    monkeypatch.setattr(transaction, "on_commit", on_commit)


def post(
    client: Client,
    body: bytes | str,
    *,
    content_type: str = "application/json",
    token: str | None = TOKEN,
    url: str = URL,
    **headers: str,
):
    if isinstance(body, str):
        body = body.encode("utf-8")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    if token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    # The test client drops the content type of an empty body; a real client does not.
    extra["CONTENT_TYPE"] = content_type
    return client.generic("POST", url, body, content_type=content_type, **extra)


def test_accepts_items_object_with_exact_counts(client: Client, source: Source) -> None:
    payload = {
        "items": [
            record("1"),
            record("2", "门店排队两小时，服务太差了"),
            record("1"),  # duplicate id inside the batch
            {"external_id": "3", "platform": "weibo", "posted_at": "2026-11-24T10:00:00+08:00"},
        ]
    }
    response = post(client, json.dumps(payload))
    assert response.status_code == 202, response.content
    data = response.json()
    assert data["accepted"] == 2
    assert data["duplicates"] == 1
    assert [r["index"] for r in data["rejected"]] == [3]
    assert "text" in data["rejected"][0]["error"]
    assert Mention.objects.count() == 2
    raw = RawItem.objects.get()
    assert raw.status == RawItem.Status.DONE
    assert raw.created_count == 2 and raw.source == source
    assert set(Mention.objects.values_list("source_id", flat=True)) == {source.pk}


def test_accepts_array_and_json_lines(client: Client, source: Source) -> None:
    assert post(client, json.dumps([record("a1"), record("a2")])).json()["accepted"] == 2
    lines = "\n".join(json.dumps(record(f"l{i}")) for i in range(3))
    response = post(client, lines, content_type="application/x-ndjson")
    assert response.status_code == 202
    assert response.json()["accepted"] == 3
    assert Mention.objects.count() == 5


def test_missing_or_wrong_token_is_401(client: Client, source: Source) -> None:
    body = json.dumps([record("1")])
    for token in (None, "wrong-token", ""):
        response = post(client, body, token=token)
        assert response.status_code == 401
        assert "token" in response.json()["error"]
    response = client.generic(
        "POST", URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Basic {TOKEN}"
    )
    assert response.status_code == 401
    assert RawItem.objects.count() == 0


def test_unknown_source_is_404(client: Client, source: Source) -> None:
    response = post(client, "[]", url="/api/v1/sources/nope/mentions")
    assert response.status_code == 404
    assert "error" in response.json()


def test_oversize_body_is_413_and_nothing_stored(client: Client, source: Source, settings) -> None:
    settings.INGEST_MAX_BYTES = 2048
    body = json.dumps([record(str(i)) for i in range(50)])
    assert len(body) > 2048
    response = post(client, body)
    assert response.status_code == 413
    assert "2048" in response.json()["error"]
    assert RawItem.objects.count() == 0 and Mention.objects.count() == 0


def test_wrong_content_type_is_415(client: Client, source: Source) -> None:
    for content_type in ("text/csv", "application/xml", "multipart/form-data; boundary=x", ""):
        response = post(client, b"<rss></rss>", content_type=content_type)
        assert response.status_code == 415, content_type
        assert "content type" in response.json()["error"]
    assert RawItem.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"items": [{"external_id": "1", ',  # truncated JSON
        b"not json at all",
        b"",
        '[{"external_id": "1", "text": "茶小满"}]'.encode("gbk"),  # GBK declared as UTF-8
        (FIXTURES / "malformed.json").read_bytes(),
    ],
)
def test_unparseable_body_is_400_kept_and_nothing_stored(
    client: Client, source: Source, body: bytes
) -> None:
    response = post(client, body, content_type="application/json; charset=utf-8")
    assert response.status_code in (202, 400), response.content
    if response.status_code == 202:  # a GBK body may decode with a fallback; then it is whole
        assert response.json()["rejected"] or response.json()["accepted"]
        return
    data = response.json()
    assert data["error"]
    raw = RawItem.objects.get()
    assert raw.status == RawItem.Status.FAILED and raw.error == data["error"]
    assert bytes(raw.body) == body  # the payload is kept for inspection
    assert Mention.objects.count() == 0


def test_bad_records_are_rejected_with_reasons(client: Client, source: Source) -> None:
    payload = [
        record("ok"),
        record("future", posted_at="2099-01-01T00:00:00+08:00"),
        record("ancient", posted_at="1970-01-01T00:00:00Z"),
        record("badcount", metrics={"likes": "lots"}),
        {"external_id": ["not", "a", "string"], "text": "x", "posted_at": "2026-11-24"},
        "a bare string",
    ]
    response = post(client, json.dumps(payload))
    assert response.status_code == 202
    data = response.json()
    assert data["accepted"] == 1
    assert sorted(r["index"] for r in data["rejected"]) == [1, 2, 3, 4, 5]
    assert all(r["error"] for r in data["rejected"])
    assert list(Mention.objects.values_list("external_id", flat=True)) == ["ok"]


def test_signature_required_when_the_source_has_a_secret(client: Client, source: Source) -> None:
    Source.objects.filter(pk=source.pk).update(signing_secret="s3cret")
    body = json.dumps([record("1")]).encode()
    assert post(client, body).status_code == 401
    assert post(client, body, **{"X-Fenghuo-Signature": "sha256=deadbeef"}).status_code == 401
    good = signature_for("s3cret", body)
    response = post(client, body, **{"X-Fenghuo-Signature": good})
    assert response.status_code == 202
    assert Mention.objects.count() == 1


def test_same_payload_twice_stores_nothing_new(client: Client, source: Source) -> None:
    body = json.dumps({"items": [record(str(i), f"第{i}条：茶小满的杯子漏了") for i in range(20)]})
    assert post(client, body).status_code == 202
    before = list(Mention.objects.order_by("pk").values())
    assert post(client, body).status_code == 202
    after = list(Mention.objects.order_by("pk").values())
    assert before == after
    second = RawItem.objects.order_by("-pk").first()
    assert second is not None and second.created_count == 0 and second.unchanged_count == 20


def test_edited_post_updates_counts(client: Client, source: Source) -> None:
    assert post(client, json.dumps([record("e1")])).status_code == 202
    edited = record("e1", metrics={"reposts": 50, "comments": 60, "likes": 700, "views": 9000})
    assert post(client, json.dumps([edited])).status_code == 202
    mention = Mention.objects.get()
    assert (mention.reposts, mention.comments, mention.likes, mention.views) == (50, 60, 700, 9000)
    assert RawItem.objects.order_by("-pk").first().updated_count == 1  # type: ignore[union-attr]


def test_html_and_script_are_stored_as_text_and_escaped(
    client: Client, source: Source, analyst
) -> None:
    hostile = record(
        "x1",
        '<script>alert("x")</script><img src=x onerror=alert(1)>茶小满',
        url="javascript:alert(1)",
        author={"name": "<b>坏人</b>"},
    )
    assert post(client, json.dumps([hostile])).status_code == 202
    client.force_login(analyst)
    page = client.get("/monitoring/").content.decode()
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "<b>坏人</b>" not in page
    assert "javascript:alert" not in page


def test_no_500_on_garbage(client: Client, source: Source) -> None:
    bodies = [
        b"\xff\xfe\x00garbage",
        b"[" * 10000,
        b'{"items": 5}',
        b"[1, 2, 3]",
        b"null",
        b'{"items": [{"external_id": "1", "text": "x", "posted_at": 1e400}]}',
    ]
    for body in bodies:
        response = post(client, body)
        assert response.status_code in (202, 400), (body[:20], response.status_code)

"""`manage.py analyze`: the JSON Lines contract, through the stream function and the command."""

from __future__ import annotations

import io
import json
import sys

import pytest

from monitoring.nlp import Analysis, analyze_many, analyze_text
from monitoring.nlp.cli import run_analyze
from monitoring.nlp.crisis_type import CRISIS_TYPES

LINES = [
    '{"id": 1, "text": "APP又崩了，客服电话打不通[怒]"}',
    "not json at all",
    "",
    '{"id": "b", "text": "今天天气真好，出去玩[太开心]"}',
    "   ",
    "[1, 2]",
    '{"id": 3}',
    '{"id": 4, "text": 42}',
    '{"text": "没有id的帖子，网传的消息是谣言"}',
    '{"id": {"nested": true}, "text": ""}',
]


def _run(lines: list[str] | list[bytes], **kwargs: object) -> list[dict[str, object]]:
    out = io.StringIO()
    n = run_analyze(lines, out, **kwargs)  # type: ignore[arg-type]
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert n == len(rows)
    return rows


def test_one_output_per_non_blank_line_in_order_with_errors_in_place() -> None:
    rows = _run(LINES)
    assert len(rows) == 8  # ten lines, two blank
    assert rows[0]["id"] == 1
    assert rows[1] == {"line": 2, "error": rows[1]["error"]}
    assert "invalid JSON" in str(rows[1]["error"])
    assert rows[2]["id"] == "b"
    assert rows[3]["line"] == 6 and "object" in str(rows[3]["error"])
    assert rows[4]["line"] == 7 and "text" in str(rows[4]["error"])
    assert rows[5]["line"] == 8 and "string" in str(rows[5]["error"])
    assert rows[6]["id"] is None and rows[6]["crisis_type"] == "false_information"
    assert rows[7]["id"] == {"nested": True} and rows[7]["polarity"] == "neutral"


def test_result_fields() -> None:
    rows = _run(LINES)
    good = [r for r in rows if "error" not in r]
    assert len(good) == 4
    for r in good:
        assert set(r) == {"id", "sentiment", "polarity", "keywords", "crisis_type"}
        assert isinstance(r["sentiment"], float) and 0.0 <= r["sentiment"] <= 1.0
        assert r["polarity"] in {"negative", "neutral", "positive"}
        assert isinstance(r["keywords"], list)
        assert r["crisis_type"] is None or r["crisis_type"] in CRISIS_TYPES
    assert good[0]["polarity"] == "negative" and good[0]["crisis_type"] == "technical_failure"
    assert good[1]["polarity"] == "positive"


def test_order_survives_batching() -> None:
    lines = [json.dumps({"id": i, "text": f"第{i}条"}) if i % 7 else "{bad" for i in range(50)]
    rows = _run(lines, batch_size=4)
    assert len(rows) == 50
    for i, row in enumerate(rows):
        if i % 7:
            assert row["id"] == i
        else:
            assert row == {"line": i + 1, "error": row["error"]}


def test_output_is_not_ascii_escaped() -> None:
    out = io.StringIO()
    run_analyze(['{"id": 1, "text": "客服投诉退款"}'], out)
    assert "退款" in out.getvalue()
    assert "\\u" not in out.getvalue()


def test_bytes_input_bad_utf8_and_bom() -> None:
    lines = ['\ufeff{"id": 1, "text": "好"}'.encode(), b'{"id": 2, "text": "\xff\xfe"}\n']
    rows = _run(lines)
    assert rows[0]["id"] == 1
    assert rows[1]["line"] == 2 and "UTF-8" in str(rows[1]["error"])


def test_unknown_engine_fails_before_reading() -> None:
    with pytest.raises(ValueError, match="unknown sentiment engine"):
        run_analyze(iter(()), io.StringIO(), engine="nope")


def test_analysis_api() -> None:
    a = analyze_text("客服态度恶劣，要求退款！")
    assert isinstance(a, Analysis)
    with pytest.raises(AttributeError):
        a.sentiment = 1.0  # type: ignore[misc]
    many = analyze_many(["客服态度恶劣，要求退款！", "", "开心[哈哈]"])
    assert many[0] == a
    assert many[1] == Analysis(sentiment=0.5, polarity="neutral", keywords=[], crisis_type=None)


def _django_ready() -> bool:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        return "monitoring" in " ".join(settings.INSTALLED_APPS)
    except ImproperlyConfigured:
        return False


@pytest.mark.skipif(not _django_ready(), reason="Django settings are not configured")
def test_management_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.management import call_command

    data = "\n".join(LINES).encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    out = io.StringIO()
    call_command("analyze", stdout=out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 8
    assert rows[0]["id"] == 1 and rows[1]["line"] == 2

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from django.utils import translation

from crisis.channels import ChannelTarget, Message, deliver_with_retry
from crisis.channels.feishu import FeishuBackend
from tests.crisis.test_channels_http import FakeVendor, Reply

MESSAGE = Message(
    title="【严重】SLA 即将超时：首次声明 · 某某事件",
    body="首次声明时限 16:00。\n请值班员确认。",
    level="critical",
    url="https://fenghuo.example.com/incidents/42/",
    ack_url="https://fenghuo.example.com/ack/abc.def/",
    dedupe_key="incident:42:sla:statement:warning",
)
TOKEN = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
SECRET = "qR3xYz0AbCdEfGhIjKlMn"
OK = Reply(200, {"code": 0, "data": {}, "msg": "success"})


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def target(vendor: FakeVendor, *, secret: str = SECRET) -> ChannelTarget:
    return ChannelTarget(kind="feishu", address=TOKEN, secret=secret, base_url=vendor.url)


def expected_sign(timestamp: str) -> str:
    # Feishu's documented recipe: "timestamp\nsecret" is the key, the message is empty.
    key = f"{timestamp}\n{SECRET}".encode()
    return base64.b64encode(hmac.new(key, b"", digestmod=hashlib.sha256).digest()).decode()


def expected_card(level_template: str = "red") -> dict[str, Any]:
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "template": level_template,
            "title": {"tag": "plain_text", "content": "【严重】SLA 即将超时：首次声明 · 某某事件"},
        },
        "elements": [
            {
                "tag": "div",
                "text": {"tag": "plain_text", "content": "首次声明时限 16:00。\n请值班员确认。"},
            },
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": "View incident"},
                        "type": "default",
                        "url": "https://fenghuo.example.com/incidents/42/",
                    },
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": "Acknowledge"},
                        "type": "primary",
                        "url": "https://fenghuo.example.com/ack/abc.def/",
                    },
                ],
            },
        ],
    }


def test_sends_a_signed_interactive_card() -> None:
    with FakeVendor(OK) as vendor:
        result = FeishuBackend().send(target=target(vendor), message=MESSAGE, now=1_700_000_000.9)
    (request,) = vendor.requests
    assert request.method == "POST"
    assert request.path == f"/open-apis/bot/v2/hook/{TOKEN}"
    assert request.raw_query == ""
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.json() == {
        "timestamp": "1700000000",
        "sign": expected_sign("1700000000"),
        "msg_type": "interactive",
        "card": expected_card(),
    }
    assert (result.ok, result.transient, result.detail) == (True, False, "feishu: ok")
    # The ledger copy keeps everything but the (replayable) signature.
    assert json.loads(result.request_body) == {
        "timestamp": "1700000000",
        "sign": "[redacted]",
        "msg_type": "interactive",
        "card": expected_card(),
    }


@pytest.mark.parametrize(("level", "template"), [("info", "blue"), ("warning", "orange")])
def test_header_colour_follows_the_level(level: str, template: str) -> None:
    message = Message(
        title=MESSAGE.title,
        body=MESSAGE.body,
        level=level,
        url=MESSAGE.url,
        ack_url=MESSAGE.ack_url,
    )
    with FakeVendor(OK) as vendor:
        FeishuBackend().send(target=target(vendor, secret=""), message=message)
    assert vendor.requests[0].json() == {"msg_type": "interactive", "card": expected_card(template)}


def test_text_stays_plain_and_unsafe_links_get_no_button() -> None:
    message = Message(
        title="转发\n[抽奖](http://evil.example/)",
        body="",
        level="info",
        url="javascript:alert(1)",
        ack_url="/relative/ack/",
    )
    with FakeVendor(OK) as vendor:
        FeishuBackend().send(target=target(vendor, secret=""), message=message)
    card = vendor.requests[0].json()["card"]
    assert card["header"]["title"] == {
        "tag": "plain_text",
        "content": "转发 [抽奖](http://evil.example/)",
    }
    assert card["elements"] == []


def test_older_status_code_reply_counts_as_success() -> None:
    with FakeVendor(Reply(200, {"Extra": None, "StatusCode": 0, "StatusMessage": "success"})) as v:
        result = FeishuBackend().send(target=target(v), message=MESSAGE)
    assert result.ok


def test_signature_failure_is_permanent_and_sent_once() -> None:
    reply = Reply(
        400, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
    )
    with FakeVendor(reply) as vendor:
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=lambda _s: None)
    assert (result.ok, result.transient, result.status_code) == (False, False, 400)
    assert result.detail == (
        "feishu: error 19021: sign match fail or timestamp is not within one hour"
    )
    assert len(vendor.requests) == 1


def test_rate_limit_is_retried_then_succeeds() -> None:
    limited = Reply(
        200, {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"}
    )
    with FakeVendor(limited, OK) as vendor:
        sleeps: list[float] = []
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=sleeps.append)
    assert result.ok
    assert len(vendor.requests) == 2
    assert sleeps == [1]
    for request in vendor.requests:
        sent = request.json()
        assert sent["sign"] == expected_sign(sent["timestamp"])


def test_server_error_is_transient() -> None:
    with FakeVendor(Reply(503, b"")) as vendor:
        result = FeishuBackend().send(target=target(vendor), message=MESSAGE)
    assert (result.ok, result.transient, result.detail) == (False, True, "feishu: HTTP 503")


def test_slow_vendor_times_out_as_transient() -> None:
    with FakeVendor(Reply(200, {"code": 0}, delay=10)) as vendor:
        result = FeishuBackend(timeout=0.3).send(target=target(vendor), message=MESSAGE)
    assert (result.ok, result.transient, result.detail) == (
        False,
        True,
        "feishu: timed out after 0.3s",
    )


def test_full_webhook_url_and_validation() -> None:
    backend = FeishuBackend()
    with FakeVendor(OK) as vendor:
        address = f"{vendor.url}/open-apis/bot/v2/hook/{TOKEN}"
        result = backend.send(target=ChannelTarget(kind="feishu", address=address), message=MESSAGE)
    assert result.ok
    assert vendor.requests[0].path == f"/open-apis/bot/v2/hook/{TOKEN}"
    backend.validate_target(
        ChannelTarget(
            kind="feishu", address=f"https://open.larksuite.com/open-apis/bot/v2/hook/{TOKEN}"
        )
    )
    with pytest.raises(ValueError, match="This is not a Feishu bot webhook URL"):
        backend.validate_target(
            ChannelTarget(kind="feishu", address=f"https://open.feishu.cn/hook/{TOKEN}")
        )
    with pytest.raises(ValueError, match="Enter the Feishu bot webhook URL, or just its key"):
        backend.validate_target(
            ChannelTarget(kind="feishu", address="https://open.feishu.cn/open-apis/bot/v2/hook/a/b")
        )

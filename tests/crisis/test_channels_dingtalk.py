from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from typing import Any

import pytest
from django.utils import translation

from crisis.channels import ChannelTarget, Message, deliver_with_retry
from crisis.channels.dingtalk import DingTalkBackend
from tests.crisis.test_channels_http import FakeVendor, Reply

MESSAGE = Message(
    title="【严重】SLA 即将超时：首次声明 · 某某事件",
    body="首次声明时限 16:00。\n请值班员确认。",
    level="critical",
    url="https://fenghuo.example.com/incidents/42/",
    ack_url="https://fenghuo.example.com/ack/abc.def/",
    dedupe_key="incident:42:sla:statement:warning",
)
TOKEN = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
SECRET = "SECd3f1c0ffee0123456789abcdef0123456789abcdef0123456789abcdef01234"
OK = Reply(200, {"errcode": 0, "errmsg": "ok"})


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def target(vendor: FakeVendor, *, secret: str = SECRET) -> ChannelTarget:
    return ChannelTarget(kind="dingtalk", address=TOKEN, secret=secret, base_url=vendor.url)


def expected_sign(timestamp: str) -> str:
    # Written out from DingTalk's documentation, independently of the backend's helper.
    string_to_sign = f"{timestamp}\n{SECRET}".encode()
    digest = hmac.new(SECRET.encode(), string_to_sign, digestmod=hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_sends_a_signed_markdown_message() -> None:
    with FakeVendor(OK) as vendor:
        result = DingTalkBackend().send(
            target=target(vendor), message=MESSAGE, now=1_700_000_000.25
        )
    (request,) = vendor.requests
    assert request.method == "POST"
    assert request.path == "/robot/send"
    assert request.query == {
        "access_token": [TOKEN],
        "timestamp": ["1700000000250"],
        "sign": [expected_sign("1700000000250")],
    }
    # The signature is URL-encoded in the query as DingTalk's sample does (quote_plus).
    assert "sign=" + urllib.parse.quote_plus(expected_sign("1700000000250")) in request.raw_query
    expected = {
        "msgtype": "markdown",
        "markdown": {
            "title": "【严重】SLA 即将超时：首次声明 · 某某事件",
            "text": "#### 【严重】SLA 即将超时：首次声明 · 某某事件"
            "\n\n首次声明时限 16:00。\n请值班员确认。"
            "\n\n[View incident](https://fenghuo.example.com/incidents/42/)"
            " | [Acknowledge](https://fenghuo.example.com/ack/abc.def/)",
        },
    }
    assert request.json() == expected
    assert (result.ok, result.detail, result.status_code) == (True, "dingtalk: ok", 200)
    assert json.loads(result.request_body) == expected
    assert SECRET not in result.request_body


def test_without_a_secret_nothing_is_signed() -> None:
    with FakeVendor(OK) as vendor:
        DingTalkBackend().send(target=target(vendor, secret=""), message=MESSAGE)
    assert vendor.requests[0].query == {"access_token": [TOKEN]}


def test_full_webhook_url_is_accepted() -> None:
    with FakeVendor(OK) as vendor:
        address = f"{vendor.url}/robot/send?access_token={TOKEN}"
        result = DingTalkBackend().send(
            target=ChannelTarget(kind="dingtalk", address=address, secret=SECRET),
            message=MESSAGE,
            now=1_700_000_000,
        )
    assert result.ok
    assert vendor.requests[0].query["access_token"] == [TOKEN]
    assert vendor.requests[0].query["sign"] == [expected_sign("1700000000000")]


def test_markdown_from_a_post_cannot_add_links() -> None:
    message = Message(
        title="转发[抽奖](http://evil.example/)", body="![x](http://e/p.png)", level="info"
    )
    with FakeVendor(OK) as vendor:
        DingTalkBackend().send(target=target(vendor), message=message)
    markdown = vendor.requests[0].json()["markdown"]
    assert markdown == {
        "title": "转发[抽奖](http://evil.example/)",  # the preview is plain text
        "text": "#### 转发［抽奖］(http://evil.example/)\n\n!［x］(http://e/p.png)",
    }


def test_too_frequent_is_retried_with_a_fresh_signature() -> None:
    limited = Reply(200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
    with FakeVendor(limited, OK) as vendor:
        sleeps: list[float] = []
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=sleeps.append)
    assert result.ok
    assert len(vendor.requests) == 2
    assert sleeps == [1]
    for request in vendor.requests:
        (timestamp,) = request.query["timestamp"]
        assert request.query["sign"] == [expected_sign(timestamp)]


def test_signature_mismatch_is_permanent_and_sent_once() -> None:
    reply = Reply(200, {"errcode": 310000, "errmsg": "sign not match"})
    with FakeVendor(reply) as vendor:
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=lambda _s: None)
    assert (result.ok, result.transient) == (False, False)
    assert result.detail == "dingtalk: error 310000: sign not match"
    assert len(vendor.requests) == 1


def test_gateway_error_is_transient() -> None:
    with FakeVendor(Reply(502, b"Bad Gateway")) as vendor:
        sleeps: list[float] = []
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=sleeps.append)
    assert (result.ok, result.transient, result.detail) == (False, True, "dingtalk: HTTP 502")
    assert len(vendor.requests) == 3
    assert sleeps == [1, 4]


def test_slow_vendor_times_out_as_transient() -> None:
    with FakeVendor(Reply(200, {"errcode": 0}, delay=10)) as vendor:
        result = DingTalkBackend(timeout=0.3).send(target=target(vendor), message=MESSAGE)
    assert (result.ok, result.transient, result.detail) == (
        False,
        True,
        "dingtalk: timed out after 0.3s",
    )


def test_validate_target() -> None:
    backend = DingTalkBackend()
    backend.validate_target(ChannelTarget(kind="dingtalk", address=TOKEN))
    with pytest.raises(ValueError, match="This is not a DingTalk bot webhook URL"):
        backend.validate_target(
            ChannelTarget(
                kind="dingtalk", address=f"https://oapi.dingtalk.com/x?access_token={TOKEN}"
            )
        )
    with pytest.raises(ValueError, match="Enter the DingTalk bot webhook URL, or just its key"):
        backend.validate_target(
            ChannelTarget(kind="dingtalk", address="https://oapi.dingtalk.com/robot/send")
        )
    with pytest.raises(ValueError, match="must not have a query"):
        backend.validate_target(
            ChannelTarget(kind="dingtalk", address=TOKEN, base_url="https://x.example/?a=b")
        )

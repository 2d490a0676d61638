from __future__ import annotations

import json
from typing import Any

import pytest
from django.utils import translation

from crisis.channels import ChannelTarget, Message, deliver_with_retry
from crisis.channels.wecom import WeComBackend
from tests.crisis.test_channels_http import FakeVendor, Reply

MESSAGE = Message(
    title="【严重】SLA 即将超时：首次声明 · 某某事件",
    body="首次声明时限 16:00。\n请值班员确认。",
    level="critical",
    url="https://fenghuo.example.com/incidents/42/",
    ack_url="https://fenghuo.example.com/ack/abc.def/",
    dedupe_key="incident:42:sla:statement:warning",
)
OK = Reply(200, {"errcode": 0, "errmsg": "ok"})


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def target(vendor: FakeVendor, address: str = "a1b2c3d4-0000-4000-8000-abcdef012345") -> Any:
    return ChannelTarget(kind="wecom", address=address, base_url=vendor.url)


def test_sends_the_documented_markdown_payload() -> None:
    with FakeVendor(OK) as vendor:
        result = WeComBackend().send(target=target(vendor), message=MESSAGE, now=1_700_000_000)
    (request,) = vendor.requests
    assert request.method == "POST"
    assert request.path == "/cgi-bin/webhook/send"
    assert request.query == {"key": ["a1b2c3d4-0000-4000-8000-abcdef012345"]}
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    expected = {
        "msgtype": "markdown",
        "markdown": {
            "content": '<font color="warning">**【严重】SLA 即将超时：首次声明 · 某某事件**</font>'
            "\n\n首次声明时限 16:00。\n请值班员确认。"
            "\n\n[View incident](https://fenghuo.example.com/incidents/42/)"
            " | [Acknowledge](https://fenghuo.example.com/ack/abc.def/)"
        },
    }
    assert request.json() == expected
    assert result.ok is True
    assert result.transient is False
    assert result.status_code == 200
    assert result.detail == "wecom: ok"
    assert json.loads(result.request_body) == expected


def test_info_level_is_green_and_links_are_optional() -> None:
    message = Message(title="提示", body="", level="info")
    with FakeVendor(OK) as vendor:
        WeComBackend().send(target=target(vendor), message=message)
    assert vendor.requests[0].json()["markdown"]["content"] == '<font color="info">**提示**</font>'


def test_full_webhook_url_is_accepted_and_keeps_its_host() -> None:
    with FakeVendor(OK) as vendor:
        address = f"{vendor.url}/cgi-bin/webhook/send?key=the-key"
        result = WeComBackend().send(
            target=ChannelTarget(kind="wecom", address=address), message=MESSAGE
        )
    assert result.ok
    assert vendor.requests[0].query == {"key": ["the-key"]}


def test_post_text_cannot_add_links_mentions_or_control_characters() -> None:
    message = Message(
        title="标题[点我](http://evil.example/)",
        body="看这里 [官方回应](http://evil.example/) ![x](http://evil.example/p.png)\n"
        '<@all> <font color="info">假</font>\x07\u202e反转',
        level="warning",
        url="javascript:alert(1)",
    )
    with FakeVendor(OK) as vendor:
        WeComBackend().send(target=target(vendor), message=message)
    content = vendor.requests[0].json()["markdown"]["content"]
    assert content == (
        '<font color="warning">**标题［点我］(http://evil.example/)**</font>\n\n'
        "看这里 ［官方回应］(http://evil.example/) !［x］(http://evil.example/p.png)\n"
        '＜@all＞ ＜font color="info"＞假＜/font＞反转'
    )


def test_content_is_cut_to_4096_bytes_on_a_character_boundary_keeping_the_links() -> None:
    message = Message(title="长文", body="舆" * 3000, level="warning", url=MESSAGE.url)
    with FakeVendor(OK) as vendor:
        WeComBackend().send(target=target(vendor), message=message)
    raw = vendor.requests[0].body
    content = json.loads(raw)["markdown"]["content"]
    size = len(content.encode("utf-8"))
    assert 4096 - 3 < size <= 4096  # filled up to the limit, less than one character short
    assert content.endswith("…\n\n[View incident](https://fenghuo.example.com/incidents/42/)")


def test_error_code_is_a_permanent_failure_sent_once() -> None:
    reply = Reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    with FakeVendor(reply) as vendor:
        sleeps: list[float] = []
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=sleeps.append)
    assert (result.ok, result.transient) == (False, False)
    assert result.detail == "wecom: error 93000: invalid webhook url"
    assert len(vendor.requests) == 1
    assert sleeps == []


def test_rate_limit_is_retried_then_succeeds() -> None:
    limited = Reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    with FakeVendor(limited, OK) as vendor:
        sleeps: list[float] = []
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=sleeps.append)
    assert result.ok
    assert len(vendor.requests) == 2
    assert sleeps == [1]
    assert vendor.requests[0].body == vendor.requests[1].body


def test_server_error_is_retried_until_attempts_run_out() -> None:
    with FakeVendor(Reply(500, b"<html>busy</html>")) as vendor:
        sleeps: list[float] = []
        result = deliver_with_retry(target=target(vendor), message=MESSAGE, sleep=sleeps.append)
    assert (result.ok, result.transient, result.status_code) == (False, True, 500)
    assert result.detail == "wecom: HTTP 500"
    assert len(vendor.requests) == 3
    assert sleeps == [1, 4]


def test_slow_vendor_times_out_as_transient() -> None:
    with FakeVendor(Reply(200, {"errcode": 0}, delay=10)) as vendor:
        result = WeComBackend(timeout=0.3).send(target=target(vendor), message=MESSAGE)
    assert (result.ok, result.transient) == (False, True)
    assert result.detail == "wecom: timed out after 0.3s"


def test_validate_target() -> None:
    backend = WeComBackend()
    backend.validate_target(ChannelTarget(kind="wecom", address="abc-123"))
    backend.validate_target(
        ChannelTarget(
            kind="wecom", address="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc-123"
        )
    )
    bad = [
        ("", "Enter the WeCom bot webhook URL, or just its key."),
        ("key with spaces", "Enter the WeCom bot webhook URL, or just its key."),
        ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "Enter the WeCom bot webhook URL"),
        ("https://qyapi.weixin.qq.com/other?key=abc", "This is not a WeCom bot webhook URL"),
        ("ftp://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", "Enter an http:// or https://"),
    ]
    for address, error in bad:
        with pytest.raises(ValueError, match=error.replace("?", r"\?")):
            backend.validate_target(ChannelTarget(kind="wecom", address=address))


def test_invalid_target_is_a_permanent_failure_without_a_request() -> None:
    with FakeVendor(OK) as vendor:
        result = deliver_with_retry(
            target=ChannelTarget(kind="wecom", address="not a key", base_url=vendor.url),
            message=MESSAGE,
            sleep=lambda _s: None,
        )
    assert (result.ok, result.transient) == (False, False)
    assert result.detail.startswith("invalid wecom target: ")
    assert vendor.requests == []

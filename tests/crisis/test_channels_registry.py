"""The registry, deliver_with_retry's own rules, the shared text helpers and the glossary."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

import crisis.channels
from crisis.channels import (
    ChannelTarget,
    DeliveryResult,
    Message,
    available_backends,
    channel_choices,
    deliver_with_retry,
    get_backend,
)
from crisis.channels.base import clean_text, clean_title, safe_url, truncate_utf8

REPO = Path(__file__).resolve().parents[2]
KINDS = ["email", "wecom", "dingtalk", "feishu", "webhook"]
MESSAGE = Message(title="t", body="b", level="info")


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


def test_every_kind_is_registered_once_in_order() -> None:
    assert [backend.kind for backend in available_backends()] == KINDS
    for kind in KINDS:
        assert get_backend(kind).kind == kind
    assert [kind for kind, _label in channel_choices()] == KINDS
    assert [str(label) for _kind, label in channel_choices()] == [
        "E-mail",
        "WeCom group bot",
        "DingTalk robot",
        "Feishu bot",
        "Webhook",
    ]


def test_labels_are_lazy_and_follow_the_active_language() -> None:
    label = get_backend("wecom").label
    with translation.override("zh-hans"):
        zh = str(label)
    # Either the compiled catalogue has it already, or `make messages` has not run yet; in
    # both cases the lazy label was not frozen at import time in some other language.
    assert zh in ("企业微信群机器人", "WeCom group bot")
    assert str(label) == "WeCom group bot"


def test_unknown_kind() -> None:
    with pytest.raises(KeyError, match=r"unknown notification channel 'sms' \(known: dingtalk"):
        get_backend("sms")
    result = deliver_with_retry(
        target=ChannelTarget(kind="sms", address="+8613800000000"), message=MESSAGE
    )
    assert (result.ok, result.transient) == (False, False)
    assert result.detail.startswith("unknown notification channel 'sms'")


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="attempts"):
        deliver_with_retry(
            target=ChannelTarget(kind="email", address="a@example.com"),
            message=MESSAGE,
            attempts=0,
        )


class _Scripted:
    """A stand-in backend with scripted results: the HTTP backends test retries against a
    real local server; this one covers what deliver_with_retry does on its own."""

    kind = "scripted"
    label = "Scripted"

    def __init__(self, *outcomes: DeliveryResult | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def validate_target(self, target: ChannelTarget) -> None:
        pass

    def send(
        self, *, target: ChannelTarget, message: Message, now: float | None = None
    ) -> DeliveryResult:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def test_a_backend_bug_is_a_permanent_failure_not_an_exception(monkeypatch: Any) -> None:
    backend = _Scripted(RuntimeError("boom"))
    monkeypatch.setitem(crisis.channels._BACKENDS, "scripted", backend)
    result = deliver_with_retry(
        target=ChannelTarget(kind="scripted", address="x"), message=MESSAGE, sleep=lambda _s: None
    )
    assert result == DeliveryResult(
        ok=False, transient=False, detail="scripted: internal error: RuntimeError"
    )
    assert backend.calls == 1


def test_empty_backoff_means_no_wait(monkeypatch: Any) -> None:
    busy = DeliveryResult(ok=False, transient=True, detail="busy")
    backend = _Scripted(busy, busy, DeliveryResult(ok=True, transient=False, detail="fine"))
    monkeypatch.setitem(crisis.channels._BACKENDS, "scripted", backend)
    sleeps: list[float] = []
    result = deliver_with_retry(
        target=ChannelTarget(kind="scripted", address="x"),
        message=MESSAGE,
        backoff=(),
        sleep=sleeps.append,
    )
    assert result.detail == "fine"
    assert (backend.calls, sleeps) == (3, [0, 0])


def test_message_level_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown message level 'urgent'"):
        Message(title="t", body="b", level="urgent")


def test_text_helpers() -> None:
    assert clean_text("a\r\nb\rc\u2028d\x00e\x1b\u202ef\tg\n") == "a\nb\nc\ndef\tg"
    assert clean_title("  a\n\n b\t c  ") == "a b c"
    assert truncate_utf8("舆情", 6) == "舆情"
    assert truncate_utf8("舆情监测", 8) == "舆…"  # 3 + 3 (ellipsis); a partial char is dropped
    assert truncate_utf8("舆情监测", 7) == "舆…"
    assert truncate_utf8("abc", 2) == "ab"  # no room for the ellipsis
    assert safe_url("https://x.example/a") == "https://x.example/a"
    for bad in (None, "", "javascript:alert(1)", "/relative", "https://x.example/a b", "http://"):
        assert safe_url(bad) is None, bad


def _msgids() -> set[str]:
    found = set()
    for path in (REPO / "crisis" / "channels").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("gettext", "gettext_lazy")
            ):
                (arg,) = node.args
                assert isinstance(arg, ast.Constant), f"non-literal msgid in {path.name}"
                found.add(arg.value)
    return found


def test_glossary_has_chinese_for_every_msgid() -> None:
    glossary = json.loads(
        (REPO / "locale" / "zh_Hans" / "glossary" / "channels.json").read_text(encoding="utf-8")
    )
    msgids = _msgids()
    assert "View incident" in msgids  # the scan itself works
    assert sorted(msgids - glossary.keys()) == []
    assert sorted(glossary.keys() - msgids) == []

from __future__ import annotations

import socketserver
import threading
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import translation

from crisis.channels import ChannelTarget, Message, deliver_with_retry
from crisis.channels.email import EmailBackend
from tests.crisis.test_channels_http import closed_port

MESSAGE = Message(
    title="【严重】SLA 即将超时：首次声明 · 某某事件",
    body="首次声明时限 16:00。\n请值班员确认。",
    level="critical",
    url="https://fenghuo.example.com/incidents/42/",
    ack_url="https://fenghuo.example.com/ack/abc.def/",
    dedupe_key="incident:42:sla:statement:warning",
)
TARGET = ChannelTarget(kind="email", address="duty@example.com")


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


class FakeSmtp:
    """Just enough SMTP for smtplib: answers RCPT with the given reply, keeps DATA."""

    def __init__(self, rcpt_reply: str = "250 ok") -> None:
        self.messages: list[bytes] = []
        self.commands: list[str] = []
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 fake ESMTP\r\n")
                while line := self.rfile.readline():
                    command = line.decode().strip()
                    verb = command.split(" ", 1)[0].upper()
                    fake.commands.append(verb)
                    if verb in ("EHLO", "HELO"):
                        answer = "250 fake"
                    elif verb == "RCPT":
                        answer = fake.rcpt_reply
                    elif verb == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        fake.messages.append(data)
                        answer = "250 queued"
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    elif verb in ("MAIL", "RSET", "NOOP"):
                        answer = "250 ok"
                    else:
                        answer = "502 not implemented"
                    self.wfile.write(answer.encode() + b"\r\n")

        self.rcpt_reply = rcpt_reply
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSmtp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> Any:
        return smtp_settings(int(self.server.server_address[1]))


def smtp_settings(port: int) -> Any:
    return override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=port,
        EMAIL_HOST_USER="",
        EMAIL_HOST_PASSWORD="",
        EMAIL_USE_TLS=False,
        EMAIL_USE_SSL=False,
        EMAIL_TIMEOUT=5,
    )


def test_sends_subject_body_and_links(mailoutbox: list[Any]) -> None:
    result = EmailBackend().send(target=TARGET, message=MESSAGE, now=1_700_000_000)
    (email,) = mailoutbox
    assert email.subject == "【严重】SLA 即将超时：首次声明 · 某某事件"
    assert email.body == (
        "首次声明时限 16:00。\n请值班员确认。\n\n"
        "View incident: https://fenghuo.example.com/incidents/42/\n"
        "Acknowledge: https://fenghuo.example.com/ack/abc.def/\n"
    )
    assert email.from_email == settings.DEFAULT_FROM_EMAIL
    assert email.to == ["duty@example.com"]
    assert email.extra_headers == {"X-Fenghuo-Dedupe-Key": "incident:42:sla:statement:warning"}
    assert (result.ok, result.transient, result.detail) == (True, False, "email: sent")
    assert result.request_body.startswith(
        "To: duty@example.com\nSubject: 【严重】SLA 即将超时：首次声明 · 某某事件\n\n首次声明时限"
    )


def test_subject_is_one_line_and_unsafe_links_are_left_out(mailoutbox: list[Any]) -> None:
    message = Message(
        title="转发\r\n抽奖\x1b[31m", body="正文\x00", level="info", url="javascript:alert(1)"
    )
    result = EmailBackend().send(target=TARGET, message=message)
    assert result.ok
    (email,) = mailoutbox
    assert email.subject == "转发 抽奖[31m"
    assert email.body == "正文\n"
    assert email.extra_headers == {}


def test_bad_address_is_permanent_and_nothing_is_sent(mailoutbox: list[Any]) -> None:
    for address in ("not-an-address", "duty@", "a@b@example.com", "duty@example.com\nBcc: x@y.z"):
        result = deliver_with_retry(
            target=ChannelTarget(kind="email", address=address),
            message=MESSAGE,
            sleep=lambda _s: None,
        )
        assert (result.ok, result.transient) == (False, False), address
        assert result.detail == "invalid email target: Enter a valid e-mail address."
    assert mailoutbox == []


def test_delivery_through_a_real_smtp_conversation() -> None:
    with FakeSmtp() as smtp, smtp.settings():
        result = EmailBackend().send(target=TARGET, message=MESSAGE)
    assert result.ok, result.detail
    (raw,) = smtp.messages
    assert b"To: duty@example.com" in raw
    assert b"X-Fenghuo-Dedupe-Key: incident:42:sla:statement:warning" in raw
    assert smtp.commands[:4] == ["EHLO", "MAIL", "RCPT", "DATA"]


def test_mailbox_refused_with_5xx_is_permanent() -> None:
    with FakeSmtp("550 5.1.1 no such user") as smtp, smtp.settings():
        sleeps: list[float] = []
        result = deliver_with_retry(target=TARGET, message=MESSAGE, sleep=sleeps.append)
    assert (result.ok, result.transient) == (False, False)
    assert result.detail == "email: recipient refused (550)"
    assert smtp.commands.count("RCPT") == 1
    assert sleeps == []


def test_mailbox_refused_with_4xx_is_retried() -> None:
    with FakeSmtp("450 4.2.1 mailbox busy") as smtp, smtp.settings():
        sleeps: list[float] = []
        result = deliver_with_retry(target=TARGET, message=MESSAGE, sleep=sleeps.append)
    assert (result.ok, result.transient) == (False, True)
    assert result.detail == "email: recipient refused (450)"
    assert smtp.commands.count("RCPT") == 3
    assert sleeps == [1, 4]


def test_unreachable_smtp_server_is_transient() -> None:
    with smtp_settings(closed_port()):
        result = EmailBackend().send(target=TARGET, message=MESSAGE)
    assert (result.ok, result.transient) == (False, True)
    assert result.detail.startswith("email: ConnectionRefusedError")

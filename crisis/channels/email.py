"""E-mail through Django's configured mail backend (SMTP in production, locmem in tests).

Subject = title, plain-text body followed by the incident and acknowledge links, from
DEFAULT_FROM_EMAIL. SMTP trouble is transient; an address the server refuses with a 5xx, or
one that does not validate, is permanent.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMessage
from django.core.validators import EmailValidator
from django.utils.translation import gettext, gettext_lazy

from crisis.channels.base import (
    ChannelTarget,
    DeliveryResult,
    Message,
    clean_text,
    clean_title,
    clean_token,
    invalid_target,
    safe_url,
)

_validate_email = EmailValidator()


def build_body(message: Message) -> str:
    parts = [clean_text(message.body)]
    links = []
    if url := safe_url(message.url):
        links.append(gettext("View incident: %(url)s") % {"url": url})
    if ack_url := safe_url(message.ack_url):
        links.append(gettext("Acknowledge: %(url)s") % {"url": ack_url})
    if links:
        parts.append("\n".join(links))
    return "\n\n".join(p for p in parts if p) + "\n"


class EmailBackend:
    kind = "email"
    label = gettext_lazy("E-mail")

    def validate_target(self, target: ChannelTarget) -> None:
        try:
            _validate_email(target.address)
        except ValidationError as exc:
            raise ValueError(gettext("Enter a valid e-mail address.")) from exc

    def send(
        self, *, target: ChannelTarget, message: Message, now: float | None = None
    ) -> DeliveryResult:
        try:
            self.validate_target(target)
        except ValueError as exc:
            return invalid_target(target, exc)
        subject = clean_title(message.title)
        body = build_body(message)
        headers = {}
        # SMTP has no idempotency key; the header lets a receiving filter or a human spot
        # a duplicate of the same ledger row.
        if key := clean_token(message.dedupe_key):
            headers["X-Fenghuo-Dedupe-Key"] = key
        email = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[target.address],
            headers=headers,
        )
        request_body = f"To: {target.address}\nSubject: {subject}\n\n{body}"
        try:
            email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            # 5xx is the server saying the mailbox does not exist or is not accepted; 4xx
            # (greylisting, mailbox busy) clears up.
            permanent = bool(codes) and all(code >= 500 for code in codes)
            return DeliveryResult(
                ok=False,
                transient=not permanent,
                detail=f"email: recipient refused ({', '.join(map(str, codes))})",
                request_body=request_body,
            )
        except BadHeaderError as exc:
            return DeliveryResult(
                ok=False, transient=False, detail=f"email: {exc}", request_body=request_body
            )
        except (smtplib.SMTPException, OSError) as exc:
            return DeliveryResult(
                ok=False,
                transient=True,
                detail=f"email: {type(exc).__name__}: {exc}"[:200],
                request_body=request_body,
            )
        return DeliveryResult(
            ok=True, transient=False, detail="email: sent", request_body=request_body
        )

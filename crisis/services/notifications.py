"""The notification ledger and its deliveries: one row per page (unique ``dedupe_key``), one
delivery per recipient and channel, sent by a worker with retries; and the signed
acknowledge links in the pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.signing import TimestampSigner
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone

from crisis.channels import ChannelTarget, Message, deliver_with_retry
from crisis.enqueue import send_on_commit
from crisis.models import (
    Delivery,
    DeliveryStatus,
    GroupWebhook,
    Incident,
    Notification,
    NotificationReason,
    SlaMilestone,
    UserChannel,
    UserProfile,
)
from crisis.roles import ROLES
from crisis.services.people import _role_members
from crisis.services.timeline import _now


def ack_token(*, incident_id: int) -> str:
    return TimestampSigner(salt="crisis.ack").sign(str(incident_id))


def ack_token_read(*, token: str) -> int:
    """The incident id of a valid, unexpired acknowledge link; raises signing.BadSignature
    (or SignatureExpired, a subclass) otherwise."""
    max_age = settings.FENGHUO_ACK_LINK_MAX_AGE
    value = TimestampSigner(salt="crisis.ack").unsign(token, max_age=max_age)
    return int(value)


def _absolute(path: str) -> str:
    base = settings.FENGHUO_BASE_URL.rstrip("/")
    return base + path


def notification_create(
    *,
    dedupe_key: str,
    reason: str,
    level: str,
    title: str,
    body: str,
    recipients: list[User],
    audiences: tuple[str, ...] = (),
    severity: str = "warning",
    incident: Incident | None = None,
    milestone: SlaMilestone | None = None,
    fired_for: datetime | None = None,
    now: datetime | None = None,
) -> Notification | None:
    """Write the ledger row and its deliveries, once per ``dedupe_key``.

    Returns None when the row already exists (another worker, a duplicate task, a rerun).
    Must run inside a transaction; the delivery tasks are enqueued on commit.
    """
    now = _now(now)
    try:
        with transaction.atomic():  # a savepoint: a duplicate key only undoes this block
            notification = Notification.objects.create(
                dedupe_key=dedupe_key[:200],
                reason=reason,
                level=level,
                severity=severity,
                title=title[:300],
                body=body,
                incident=incident,
                milestone=milestone,
                created_at=now,
                fired_for=fired_for,
            )
    except IntegrityError:
        return None

    deliveries: list[Delivery] = []
    seen: set[int] = set()
    users = [u for u in recipients if u.is_active and not (u.pk in seen or seen.add(u.pk))]  # type: ignore[func-returns-value]
    profiles = {p.user_id: p for p in UserProfile.objects.filter(user__in=users)}
    channels = UserChannel.objects.filter(user__in=users, enabled=True)
    by_user: dict[int, list[UserChannel]] = {}
    for channel in channels:
        by_user.setdefault(channel.user_id, []).append(channel)
    for user in users:
        deliveries.append(
            Delivery(
                notification=notification,
                user=user,
                channel="inapp",
                status=DeliveryStatus.SENT,
                sent_at=now,
                attempts=1,
            )
        )
        profile = profiles.get(user.pk)
        if user.email and (profile is None or profile.email_enabled):
            deliveries.append(
                Delivery(notification=notification, user=user, channel="email", address=user.email)
            )
        for channel in by_user.get(user.pk, []):
            deliveries.append(
                Delivery(
                    notification=notification,
                    user=user,
                    channel=channel.kind,
                    address=channel.address,
                )
            )
    if audiences:
        for hook in GroupWebhook.objects.filter(audience__in=audiences, enabled=True):
            deliveries.append(
                Delivery(
                    notification=notification,
                    group_webhook=hook,
                    channel=hook.kind,
                    address=hook.address,
                )
            )
    Delivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    external = list(
        Delivery.objects.filter(notification=notification)
        .exclude(channel="inapp")
        .values_list("pk", flat=True)
    )
    for delivery_id in external:
        send_on_commit("crisis.deliver_notification", delivery_id)
    return notification


def notification_broadcast(
    *,
    audience_role: str,
    title: str,
    body: str,
    dedupe_key: str,
    level: str = "warning",
    incident: Incident | None = None,
    now: datetime | None = None,
) -> int:
    """Page everyone holding ``audience_role`` (and the role's group webhooks) once per
    ``dedupe_key``. Returns how many people were paged; 0 when it was already sent."""
    if audience_role not in ROLES:
        raise ValueError(f"unknown role {audience_role!r}")
    if level not in ("info", "warning", "critical"):
        raise ValueError(f"unknown level {level!r}")
    recipients = _role_members(audience_role)
    with transaction.atomic():
        row = notification_create(
            dedupe_key=f"broadcast:{dedupe_key}",
            reason=NotificationReason.BROADCAST,
            level=audience_role,
            title=title,
            body=body,
            recipients=recipients,
            audiences=(audience_role,),
            severity=level,
            incident=incident,
            now=now,
        )
    return len(recipients) if row is not None else 0


def notification_message(*, delivery: Delivery) -> Message:
    n = delivery.notification
    url = ack = None
    if n.incident_id:
        url = _absolute(reverse("incident_detail", args=[n.incident_id]))
        if n.reason in (NotificationReason.NEW_INCIDENT, NotificationReason.ESCALATION):
            ack = _absolute(
                reverse("incident_ack_link", args=[ack_token(incident_id=n.incident_id)])
            )
    return Message(
        title=n.title,
        body=n.body,
        level=n.severity if n.severity in ("info", "warning", "critical") else "warning",
        url=url,
        ack_url=ack,
        dedupe_key=n.dedupe_key,
    )


def _delivery_target(delivery: Delivery) -> ChannelTarget:
    secret = base_url = ""
    if delivery.group_webhook_id and delivery.group_webhook is not None:
        secret, base_url = delivery.group_webhook.secret, delivery.group_webhook.base_url
    elif delivery.user_id and delivery.channel != "email":
        channel = UserChannel.objects.filter(
            user_id=delivery.user_id, kind=delivery.channel, address=delivery.address
        ).first()
        if channel is not None:
            secret, base_url = channel.secret, channel.base_url
    return ChannelTarget(
        kind=delivery.channel, address=delivery.address, secret=secret, base_url=base_url
    )


# Delays before the 2nd, 3rd, ... attempt of a delivery; the last repeats.
DELIVERY_BACKOFF_SECONDS = (10, 30, 120, 600)


DELIVERY_MAX_ATTEMPTS = 5


# A claim older than this belongs to a worker that died mid-send.
DELIVERY_CLAIM_TIMEOUT = timedelta(minutes=5)


def delivery_attempt(
    *, delivery_id: int, now: datetime | None = None, sleep: Any = None
) -> Delivery | None:
    """Claim one delivery and send it. Returns None if it was gone, done, or claimed by
    another worker; otherwise the delivery with its recorded outcome."""
    now = _now(now)
    claimed = (
        Delivery.objects.filter(pk=delivery_id, status__in=("pending", "retry"))
        .filter(models.Q(next_attempt_at__isnull=True) | models.Q(next_attempt_at__lte=now))
        .update(status=DeliveryStatus.SENDING, claimed_at=now, attempts=models.F("attempts") + 1)
    )
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("notification", "group_webhook").get(pk=delivery_id)
    message = notification_message(delivery=delivery)
    target = _delivery_target(delivery)
    kwargs: dict[str, Any] = {"attempts": 2, "backoff": (1,)}
    if sleep is not None:
        kwargs["sleep"] = sleep
    result = deliver_with_retry(target=target, message=message, **kwargs)
    done_at = timezone.now()
    updates: dict[str, Any] = {
        "detail": result.detail[:2000],
        "status_code": result.status_code,
        "claimed_at": None,
    }
    if result.ok:
        updates.update(status=DeliveryStatus.SENT, sent_at=done_at, next_attempt_at=None)
    elif result.transient and delivery.attempts < DELIVERY_MAX_ATTEMPTS:
        delay = DELIVERY_BACKOFF_SECONDS[
            min(delivery.attempts - 1, len(DELIVERY_BACKOFF_SECONDS) - 1)
        ]
        updates.update(
            status=DeliveryStatus.RETRY, next_attempt_at=done_at + timedelta(seconds=delay)
        )
    else:
        updates.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING).update(**updates)
    delivery.refresh_from_db()
    return delivery


def deliveries_release_due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Release the claims abandoned by a dead worker (back to retry, due now), then return
    the ids of the deliveries whose retry time has come, for the caller to send."""
    now = _now(now)
    stale = now - DELIVERY_CLAIM_TIMEOUT
    Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=stale).update(
        status=DeliveryStatus.RETRY, next_attempt_at=now, claimed_at=None
    )
    return list(
        Delivery.objects.filter(status=DeliveryStatus.RETRY, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def notifications_mark_read(
    *, user: User, delivery_ids: list[int] | None = None, now: datetime | None = None
) -> int:
    qs = Delivery.objects.filter(user=user, channel="inapp", read_at__isnull=True)
    if delivery_ids is not None:
        qs = qs.filter(pk__in=delivery_ids)
    return qs.update(read_at=_now(now))

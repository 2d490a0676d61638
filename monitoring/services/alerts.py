"""Alerts: raised on their fingerprint, routed to an incident, and the alert queue's actions.

``alert_raise`` upserts the alert of a signal on its fingerprint (a repeat only counts). A
new alert attaches to the open incident of its topic, else to an open incident that holds
one of its evidence posts, or opens one through ``crisis.services``; the incident's signals
are then recomputed (``monitoring.services.incidents``) so severity escalates.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from crisis import services as crisis_services
from crisis.errors import ServiceError
from crisis.models import OPEN_STATUSES, Incident
from monitoring.detection import Signal
from monitoring.models import Alert, AlertKind, Topic
from monitoring.services.incidents import incident_refresh_signals, topic_signals

logger = logging.getLogger(__name__)

# Evidence kept on one alert: enough to judge it, bounded however long it repeats.
MAX_EVIDENCE = 50


def alert_raise(
    *,
    topic_id: int,
    signal: Signal,
    evidence_ids: Sequence[int] = (),
    now: datetime | None = None,
    occurrences: int = 1,
    refresh_incident: bool = True,
) -> tuple[Alert, bool]:
    """Create the alert of ``signal`` or, when one with its fingerprint exists, count the
    repeat (count + ``occurrences``, last_seen, score and metrics of the latest). A new
    alert is routed to an incident. With ``refresh_incident`` off, the caller recomputes the
    incident's signals itself (once for a whole batch). Returns (alert, created)."""
    now = now or timezone.now()
    fingerprint = f"{topic_id}:{signal.fingerprint}"[:200]
    kind = str(signal.kind)
    if kind not in AlertKind.values:
        raise ValueError(f"unknown alert kind {kind!r}")
    created = False
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(fingerprint=fingerprint).first()
        if alert is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        topic_id=topic_id,
                        kind=kind,
                        fingerprint=fingerprint,
                        score=float(signal.score),
                        reason=signal.reason[:2000],
                        metrics=_jsonable(signal.metrics),
                        count=max(1, occurrences),
                        first_seen_at=now,
                        last_seen_at=now,
                        updated_at=now,
                    )
                created = True
            except IntegrityError:  # another worker created it a moment ago
                alert = Alert.objects.select_for_update().get(fingerprint=fingerprint)
        if not created:
            metrics = _merged_metrics(kind, alert.metrics, _jsonable(signal.metrics))
            Alert.objects.filter(pk=alert.pk).update(
                count=F("count") + max(1, occurrences),
                last_seen_at=now,
                updated_at=now,
                score=max(alert.score, float(signal.score)),
                metrics=metrics,
                reason=signal.reason[:2000],
            )
        have = alert.evidence.count() if not created else 0
        room = MAX_EVIDENCE - have
        if evidence_ids and room > 0:
            alert.evidence.add(*list(evidence_ids)[:room])
    alert.refresh_from_db()
    if created:
        alert_route(alert=alert, now=now, refresh_incident=refresh_incident)
    elif refresh_incident and alert.incident_id and alert.status != Alert.Status.DISMISSED:
        incident_refresh_signals(incident_id=alert.incident_id, now=now)
    return alert, created


def alerts_raise_batch(*, signals: Sequence[tuple[int, Signal, Sequence[int]]]) -> set[int]:
    """Raise the signals of one stored batch: ``(topic_id, signal, evidence_ids)`` each.

    A batch often carries the same signal many times (every post of a burst hits the
    sensitive-term alert of its topic and hour): those are raised as one repeat of the alert
    (count + n, terms merged, evidence joined), and each incident's signals are recomputed
    once for the batch, not once per post (a burst of 100 posts made ~150 raises and took
    18 s on SQLite). A failure is logged and does not stop the others.

    Recomputing an incident's signals reads every link of its topics since detection, so
    during a long burst it is done at most once per MONITORING_SIGNALS_REFRESH_SECONDS per
    process (and at once for an incident that got a new alert); the beat task
    ``monitoring.incident_signals_refresh`` refreshes every open incident every 15 s anyway.
    Returns the ids of the incidents whose signals were refreshed.
    """
    groups: dict[tuple[int, str], list[tuple[Signal, Sequence[int]]]] = {}
    for topic_id, signal, evidence in signals:
        groups.setdefault((topic_id, signal.fingerprint), []).append((signal, evidence))
    touched: set[int] = set()
    urgent: set[int] = set()
    for (topic_id, _fingerprint), group in groups.items():
        latest = group[-1][0]
        metrics: Any = _jsonable(group[0][0].metrics)
        for signal, _evidence in group[1:]:
            metrics = _merged_metrics(str(latest.kind), metrics, _jsonable(signal.metrics))
        evidence_ids = list(dict.fromkeys(pk for _signal, ids in group for pk in ids))
        merged = replace(latest, metrics=metrics, score=max(s.score for s, _e in group))
        try:
            alert, created = alert_raise(
                topic_id=topic_id,
                signal=merged,
                evidence_ids=evidence_ids,
                occurrences=len(group),
                refresh_incident=False,
            )
        except Exception:
            logger.exception("raising a %s alert for topic %s failed", latest.kind, topic_id)
            continue
        if alert.incident_id and alert.status != Alert.Status.DISMISSED:
            touched.add(alert.incident_id)
            if created:
                urgent.add(alert.incident_id)
    refreshed: set[int] = set()
    interval = float(settings.MONITORING_SIGNALS_REFRESH_SECONDS)
    for incident_id in sorted(touched):
        last = _last_refresh.get(incident_id)
        now = time.monotonic()
        if incident_id not in urgent and last is not None and now - last < interval:
            continue
        _last_refresh[incident_id] = now
        try:
            incident_refresh_signals(incident_id=incident_id)
        except Exception:
            logger.exception("refreshing the signals of incident %s failed", incident_id)
        refreshed.add(incident_id)
    return refreshed


# incident id -> time.monotonic() of this process's last batch refresh of its signals.
_last_refresh: dict[int, float] = {}


# How many sensitive terms an hour's alert lists (the alert page shows them all).
MAX_ALERT_TERMS = 30


def _merged_metrics(kind: str, old: Any, new: Any) -> Any:
    """The metrics a repeated alert keeps: the latest, except that a sensitive-term alert
    (one per topic and hour) lists every term seen in that hour, at its highest weight."""
    if kind != AlertKind.SENSITIVE_TERM or not isinstance(old, dict) or not isinstance(new, dict):
        return new
    terms = [str(t) for t in [*old.get("terms", []), *new.get("terms", [])]]
    merged = dict(new)
    merged["terms"] = sorted(set(terms))[:MAX_ALERT_TERMS]
    weights = [w for w in (old.get("weight"), new.get("weight")) if isinstance(w, int | float)]
    if weights:
        merged["weight"] = max(weights)
    return merged


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def open_incident_of_topic(*, topic_id: int) -> Incident | None:
    """The open incident that alerts of this topic already belong to (the newest)."""
    return (
        Incident.objects.filter(monitoring_alerts__topic_id=topic_id, status__in=OPEN_STATUSES)
        .order_by("-detected_at", "-pk")
        .first()
    )


def open_incident_sharing_evidence(*, alert: Alert) -> Incident | None:
    """The open incident (the newest) that already holds an alert with one of this alert's
    evidence posts: overlapping topics (the brand, and food safety) see the same crisis
    through the same posts, and it should be one incident, not one per topic."""
    posts = alert.evidence.values("pk")
    return (
        Incident.objects.filter(
            status__in=OPEN_STATUSES, monitoring_alerts__evidence__in=Subquery(posts)
        )
        .order_by("-detected_at", "-pk")
        .first()
    )


def alert_route(
    *, alert: Alert, now: datetime | None = None, refresh_incident: bool = True
) -> Incident | None:
    """Attach a new alert to its topic's open incident, else to an open incident that holds
    one of its evidence posts, or open one. The topic row is locked so two alerts of one topic
    arriving together open one incident, not two."""
    now = now or timezone.now()
    opened = False
    with transaction.atomic():
        topic = Topic.objects.select_for_update().get(pk=alert.topic_id)
        current = Alert.objects.filter(pk=alert.pk).values_list("incident_id", "status").first()
        if current is None or current[0] is not None or current[1] == Alert.Status.DISMISSED:
            return None
        incident = open_incident_of_topic(topic_id=topic.pk) or open_incident_sharing_evidence(
            alert=alert
        )
        if incident is not None:
            Alert.objects.filter(pk=alert.pk, incident__isnull=True).update(
                incident=incident, updated_at=now
            )
            crisis_services.timeline_add(
                incident=incident,
                kind="alert_attached",
                reason=alert.reason[:500],
                data={"alert": alert.pk, "kind": alert.kind, "topic": topic.pk},
                now=now,
            )
        else:
            incident = _incident_open_from(alert=alert, topic=topic, actor=None, now=now)
            opened = True
    alert.incident_id = incident.pk
    if not opened and refresh_incident:
        incident_refresh_signals(incident_id=incident.pk, now=now)
    return incident


def _evidence_facts(alert: Alert) -> tuple[str | None, datetime | None]:
    """The majority crisis type of the evidence and its earliest stored time."""
    rows = list(alert.evidence.values_list("crisis_type", "received_at"))
    types = Counter(t for t, _at in rows if t)
    crisis_type = types.most_common(1)[0][0] if types else None
    detected = min((at for _t, at in rows), default=None)
    return crisis_type, detected


def _incident_open_from(
    *, alert: Alert, topic: Topic, actor: User | None, now: datetime
) -> Incident:
    crisis_type, detected_at = _evidence_facts(alert)
    detected_at = min(detected_at or alert.first_seen_at, now)
    title = _("%(topic)s: %(kind)s") % {"topic": topic.name, "kind": AlertKind(alert.kind).label}
    signals = topic_signals(topic_ids=[topic.pk], since=detected_at, now=now)
    incident = crisis_services.incident_open(
        title=title,
        summary=alert.reason,
        crisis_type=crisis_type,
        detected_at=detected_at,
        reporter=actor,
        source="alert",
        signals=signals,
        now=now,
    )
    Alert.objects.filter(pk=alert.pk).update(incident=incident, updated_at=now)
    return incident


class AlertActionError(ServiceError):
    """A refusal of an alert-queue action, with a message for the user (one of the refusal
    family of crisis.errors, so ``except ServiceError`` catches it too)."""


def alert_acknowledge(*, alert: Alert, actor: User, now: datetime | None = None) -> Alert:
    now = now or timezone.now()
    changed = Alert.objects.filter(pk=alert.pk, status=Alert.Status.NEW).update(
        status=Alert.Status.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=actor, updated_at=now
    )
    if not changed:
        raise AlertActionError(_("This alert was already handled."))
    alert.refresh_from_db()
    return alert


def alert_dismiss(*, alert: Alert, actor: User, reason: str, now: datetime | None = None) -> Alert:
    """A false positive: the reason is kept and shown on the topic editor as a rule hint."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise AlertActionError(_("Say why this alert is a false positive."))
    changed = Alert.objects.filter(
        pk=alert.pk, status__in=[Alert.Status.NEW, Alert.Status.ACKNOWLEDGED]
    ).update(
        status=Alert.Status.DISMISSED,
        dismissed_at=now,
        dismissed_by=actor,
        dismiss_reason=reason[:2000],
        updated_at=now,
    )
    if not changed:
        raise AlertActionError(_("This alert was already dismissed."))
    alert.refresh_from_db()
    return alert


def alert_attach(
    *, alert: Alert, incident: Incident, actor: User, now: datetime | None = None
) -> Alert:
    """Attach the alert to another (open) incident."""
    now = now or timezone.now()
    if incident.status not in OPEN_STATUSES:
        raise AlertActionError(_("Incident #%(id)s is closed.") % {"id": incident.pk})
    if alert.incident_id == incident.pk:
        return alert
    with transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(incident=incident, updated_at=now)
        crisis_services.timeline_add(
            incident=incident,
            kind="alert_attached",
            actor=actor,
            reason=alert.reason[:500],
            data={"alert": alert.pk, "kind": alert.kind, "topic": alert.topic_id},
            now=now,
        )
    alert.refresh_from_db()
    incident_refresh_signals(incident_id=incident.pk, now=now)
    return alert


def alert_open_incident(*, alert: Alert, actor: User, now: datetime | None = None) -> Incident:
    """Open a new incident from this alert (even when its topic has one open)."""
    now = now or timezone.now()
    with transaction.atomic():
        topic = Topic.objects.select_for_update().get(pk=alert.topic_id)
        incident = _incident_open_from(alert=alert, topic=topic, actor=actor, now=now)
    alert.refresh_from_db()
    return incident

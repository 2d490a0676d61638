"""People: roles, incident teams, profiles, personal channels and group webhooks, API tokens,
the duty roster, and who is paged (the recipient lookups the clocks use).

Role, roster and webhook changes belong to no incident: they are written to the audit
trail (``crisis.services.audit``), with who made them."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils.translation import gettext as _

from crisis.channels import ChannelTarget, get_backend
from crisis.models import (
    ApiToken,
    AuditAction,
    Department,
    DutyShift,
    GroupWebhook,
    Incident,
    ShiftPosition,
    TeamMember,
    TeamRole,
    UserChannel,
    UserProfile,
)
from crisis.roles import MANAGER, ROLES
from crisis.services.audit import audit_record
from crisis.services.errors import IncidentError
from crisis.services.timeline import _check_choice, _label, _now, _touch, timeline_add

# --- roles ----------------------------------------------------------------------------------


def user_set_roles(*, user: User, roles: list[str], actor: User) -> User:
    """Replace ``user``'s role groups with ``roles``; other groups are left alone. A change is
    written to the audit trail."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        role_groups = Group.objects.filter(name__in=ROLES)
        before = sorted(role_groups.filter(user=user).values_list("name", flat=True))
        user.groups.remove(*role_groups)
        user.groups.add(*Group.objects.filter(name__in=roles))
        after = sorted(set(roles))
        if before != after:
            audit_record(
                action=AuditAction.ROLES_SET,
                actor=actor,
                data={
                    "user": user.pk,
                    "username": user.get_username(),
                    "before": before,
                    "after": after,
                },
            )
    return user


# --- team -----------------------------------------------------------------------------------


def team_member_add(
    *,
    incident: Incident,
    user: User,
    actor: User,
    role: str = "member",
    department: str | None = None,
    now: datetime | None = None,
) -> TeamMember:
    now = _now(now)
    _check_choice(role, TeamRole, "team role")
    if department is None:
        department = _profile_department(user)
    _check_choice(department, Department, "department")
    with transaction.atomic():
        member, created = TeamMember.objects.get_or_create(
            incident=incident, user=user, defaults={"role": role, "department": department}
        )
        if not created:
            raise IncidentError(_("%(name)s is already on the team.") % {"name": _name(user)})
        timeline_add(
            incident=incident,
            kind="team_changed",
            actor=actor,
            field="team",
            to_value=f"+{user.get_username()}",
            data={"user": user.pk, "role": role, "department": department},
            now=now,
        )
        _touch(incident.pk, now)
    return member


def team_member_remove(
    *, member: TeamMember, actor: User, reason: str = "", now: datetime | None = None
) -> None:
    now = _now(now)
    with transaction.atomic():
        deleted, _rows = TeamMember.objects.filter(pk=member.pk).delete()
        if not deleted:
            return
        timeline_add(
            incident=member.incident,
            kind="team_changed",
            actor=actor,
            field="team",
            from_value=f"-{member.user.get_username()}",
            reason=reason,
            data={"user": member.user_id},
            now=now,
        )
        _touch(member.incident_id, now)


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _profile_department(user: User) -> str:
    """The department on the user's profile, or the profile's default (no row is created)."""
    profile = UserProfile.objects.filter(user=user).first()
    return profile.department if profile is not None else UserProfile().department


# --- profile, channels, group webhooks ------------------------------------------------------


def user_profile_ensure(*, user: User) -> UserProfile:
    """The user's profile, created with the defaults if there is none yet (a write: call it
    from a POST or a service; a page reads ``selectors.user_profile``)."""
    profile, _created = UserProfile.objects.get_or_create(user=user)
    return profile


def user_profile_update(*, user: User, department: str, email_enabled: bool) -> UserProfile:
    _check_choice(department, Department, "department")
    profile = user_profile_ensure(user=user)
    profile.department = department
    profile.email_enabled = email_enabled
    profile.save()
    return profile


def _validate_channel(kind: str, address: str, secret: str, base_url: str) -> None:
    try:
        backend = get_backend(kind)
    except KeyError:
        raise IncidentError(_("Unknown channel %(kind)s.") % {"kind": kind}) from None
    try:
        backend.validate_target(
            ChannelTarget(kind=kind, address=address, secret=secret, base_url=base_url)
        )
    except ValueError as exc:
        raise IncidentError(str(exc)) from None


def user_channel_add(
    *, user: User, kind: str, address: str, secret: str = "", base_url: str = ""
) -> UserChannel:
    _validate_channel(kind, address, secret, base_url)
    return UserChannel.objects.create(
        user=user, kind=kind, address=address, secret=secret, base_url=base_url
    )


def user_channel_remove(*, user: User, channel_id: int) -> None:
    UserChannel.objects.filter(pk=channel_id, user=user).delete()


def group_webhook_create(
    *,
    name: str,
    audience: str,
    kind: str,
    address: str,
    secret: str = "",
    base_url: str = "",
    actor: User | None = None,
) -> GroupWebhook:
    if audience not in (GroupWebhook.AUDIENCE_TEAM, *ROLES):
        raise IncidentError(_("Unknown audience %(audience)s.") % {"audience": audience})
    _validate_channel(kind, address, secret, base_url)
    with transaction.atomic():
        hook = GroupWebhook.objects.create(
            name=name,
            audience=audience,
            kind=kind,
            address=address,
            secret=secret,
            base_url=base_url,
        )
        audit_record(action=AuditAction.WEBHOOK_CREATED, actor=actor, data=_webhook_data(hook))
    return hook


def group_webhook_delete(*, webhook_id: int, actor: User | None = None) -> None:
    with transaction.atomic():
        hook = GroupWebhook.objects.filter(pk=webhook_id).first()
        if hook is None:
            return
        data = _webhook_data(hook)
        hook.delete()
        audit_record(action=AuditAction.WEBHOOK_DELETED, actor=actor, data=data)


def _webhook_data(hook: GroupWebhook) -> dict[str, Any]:
    # The address is a bot's secret URL: the trail names the hook, not where it points.
    return {"webhook": hook.pk, "name": hook.name, "audience": hook.audience, "kind": hook.kind}


# --- API tokens -----------------------------------------------------------------------------


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_token_issue(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new token; the raw value is returned once and only its hash is stored."""
    raw = "fh_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=raw[:10], key_hash=_token_hash(raw)
    )
    return token, raw


def api_token_authenticate(*, raw: str, now: datetime | None = None) -> User | None:
    if not raw:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_token_hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = _now(now)
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def api_token_revoke(*, token: ApiToken, now: datetime | None = None) -> bool:
    return bool(
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=_now(now))
    )


# --- roster ---------------------------------------------------------------------------------


def duty_shift_create(
    *, user: User, position: str, start: datetime, end: datetime, actor: User
) -> DutyShift:
    _check_choice(position, ShiftPosition, "position")
    if end <= start:
        raise IncidentError(_("A shift must end after it starts."))
    if end - start > timedelta(days=7):
        raise IncidentError(_("A shift cannot be longer than 7 days."))
    overlap = DutyShift.objects.filter(position=position, start__lt=end, end__gt=start)
    if overlap.exists():
        raise IncidentError(
            _("This overlaps another %(position)s shift; edit or delete that one first.")
            % {"position": _label(ShiftPosition, position)}
        )
    with transaction.atomic():
        shift = DutyShift.objects.create(user=user, position=position, start=start, end=end)
        audit_record(action=AuditAction.SHIFT_CREATED, actor=actor, data=_shift_data(shift))
    return shift


def duty_shift_delete(*, shift_id: int, actor: User) -> None:
    with transaction.atomic():
        shift = DutyShift.objects.select_related("user").filter(pk=shift_id).first()
        if shift is None:
            return
        data = _shift_data(shift)
        shift.delete()
        audit_record(action=AuditAction.SHIFT_DELETED, actor=actor, data=data)


def _shift_data(shift: DutyShift) -> dict[str, Any]:
    return {
        "shift": shift.pk,
        "user": shift.user_id,
        "username": shift.user.get_username(),
        "position": shift.position,
        "start": shift.start.isoformat(),
        "end": shift.end.isoformat(),
    }


# --- who is paged ---------------------------------------------------------------------------


def _managers() -> list[User]:
    return list(User.objects.filter(is_active=True, groups__name=MANAGER).distinct().order_by("pk"))


def _role_members(role: str) -> list[User]:
    return list(User.objects.filter(is_active=True, groups__name=role).distinct().order_by("pk"))


def _on_duty(position: str, now: datetime) -> list[User]:
    return [
        s.user
        for s in DutyShift.objects.select_related("user")
        .filter(position=position, start__lte=now, end__gt=now, user__is_active=True)
        .order_by("start")
    ]


def _team_users(incident: Incident) -> list[User]:
    return [m.user for m in TeamMember.objects.select_related("user").filter(incident=incident)]

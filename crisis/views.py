from __future__ import annotations

from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from crisis import health, policies, selectors, services
from crisis.forms import (
    ChannelForm,
    CrisisTypeForm,
    GroupWebhookForm,
    IncidentReportForm,
    MergeForm,
    MilestoneForm,
    PolicyForm,
    ProfileForm,
    SeverityForm,
    ShiftForm,
    TeamMemberForm,
    TokenForm,
    TransitionForm,
    UserRolesForm,
)
from crisis.models import (
    OPEN_STATUSES,
    ApiToken,
    AuditAction,
    CrisisType,
    GroupWebhook,
    Incident,
    Severity,
    Status,
    TeamMember,
    UserChannel,
)
from crisis.panels import incident_panels
from crisis.permissions import capability_required, require_capability
from crisis.roles import perm
from crisis.selectors import user_role_labels, user_roles, users_with_roles
from crisis.services import ServiceError
from crisis.web import (
    HtmxHttpRequest,
    Outcome,
    back_to_incident,
    form_errors,
    incident_for_user,
    incident_form_action,
    request_actor,
    unchanged_panel,
)


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The overview for whoever is logged in: open incidents by severity, my open pages,
    who is on duty, and the 7-day roster gap warning."""
    user = request.user
    now = timezone.now()
    context: dict[str, Any] = {
        "by_severity": selectors.open_incidents_by_severity(),
        "on_duty": selectors.on_duty_now(now=now),
        "gaps": selectors.roster_gaps(start=now),
        "open_pages": list(selectors.my_pages(user=cast(User, user))[:10]),
        "can_ack": user.has_perm(perm("acknowledge_incident")),
        "can_report": user.has_perm(perm("report_incident")),
        "nearest": list(selectors.incident_board()[:5]),
    }
    return render(request, "crisis/home.html", context)


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    ok, report = health.health_report()
    return JsonResponse(report, status=200 if ok else 503, json_dumps_params={"indent": 2})


@require_GET
@capability_required("view_console")
def team_roles(request: HtmxHttpRequest) -> HttpResponse:
    rows = [(u, user_role_labels(u)) for u in users_with_roles()]
    can_edit = request.user.has_perm("crisis.manage_roles")
    audit = list(selectors.audit_recent(actions=[AuditAction.ROLES_SET]))
    return render(
        request, "crisis/team_roles.html", {"rows": rows, "can_edit": can_edit, "audit": audit}
    )


@require_http_methods(["GET", "POST"])
@capability_required("manage_roles")
def team_roles_edit(request: HtmxHttpRequest, user_id: int) -> HttpResponse:
    member = get_object_or_404(User, pk=user_id, is_active=True)
    form = UserRolesForm(request.POST or None, initial={"roles": user_roles(member)})
    if request.method == "POST" and form.is_valid():
        services.user_set_roles(
            user=member, roles=form.cleaned_data["roles"], actor=request_actor(request)
        )
        messages.success(request, _("Roles of %(name)s saved.") % {"name": member.get_username()})
        return redirect("team_roles")
    return render(request, "crisis/team_roles_edit.html", {"member": member, "form": form})


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else _("You may not do this.")
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"error": message}, status=403)
    return render(request, "403.html", {"message": message}, status=403)


# === incident core ==========================================================================


def _board_filters(request: HttpRequest) -> dict[str, str]:
    def pick(name: str, values: list[str]) -> str:
        value = request.GET.get(name, "")
        return value if value in values else ""

    return {
        "status": pick("status", list(OPEN_STATUSES)),
        "severity": pick("severity", list(Severity.values)),
        "crisis_type": pick("type", list(CrisisType.values)),
    }


def _board_context(request: HttpRequest) -> dict[str, Any]:
    filters = _board_filters(request)
    qs = urlencode({k if k != "crisis_type" else "type": v for k, v in filters.items() if v})
    return {
        # lazy: the template's cache block evaluates it only when the board changed
        "incidents": selectors.incident_board(**filters),
        "filters": filters,
        "filter_qs": qs,
        "token": selectors.incident_board_token(filters=qs),
        "can_ack": request.user.has_perm(perm("acknowledge_incident")),
        "can_report": request.user.has_perm(perm("report_incident")),
        "status_choices": [(s, Status(s).label) for s in OPEN_STATUSES],
        "severity_choices": Severity.choices,
        "type_choices": CrisisType.choices,
    }


@require_GET
@capability_required("view_console")
def incident_board(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "crisis/board.html", _board_context(request))


@require_GET
@capability_required("view_console")
def incident_board_panel(request: HtmxHttpRequest) -> HttpResponse:
    """The live part of the board. An unchanged board answers 204 (htmx keeps the DOM)."""
    filters = _board_filters(request)
    qs = urlencode({k if k != "crisis_type" else "type": v for k, v in filters.items() if v})
    unchanged = unchanged_panel(request, selectors.incident_board_token(filters=qs))
    if unchanged is not None:
        return unchanged
    return render(request, "crisis/board.html#board-panel", _board_context(request))


@require_http_methods(["GET", "POST"])
@capability_required("report_incident")
def incident_report(request: HtmxHttpRequest) -> HttpResponse:
    form = IncidentReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = services.incident_open(
                title=data["title"],
                summary=data["summary"],
                crisis_type=data["crisis_type"] or None,
                severity=data["severity"],
                complexity=data["complexity"],
                detected_at=data["detected_at"],
                drill=data["drill"],
                reporter=request_actor(request),
                source="manual",
            )
        except ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Incident #%(id)s opened.") % {"id": incident.pk})
            return redirect("incident_detail", incident_id=incident.pk)
    return render(request, "crisis/incident_report.html", {"form": form})


@require_GET
def incident_detail(request: HtmxHttpRequest, incident_id: int) -> HttpResponse:
    incident = incident_for_user(request, incident_id)
    user = request.user
    members = list(incident.team.select_related("user").order_by("added_at"))
    milestones = list(incident.milestones.select_related("met_by").order_by("due_at", "id"))
    allowed = policies.allowed_transitions(incident=incident, user=user)
    context = {
        "incident": incident,
        "milestones": milestones,
        "members": members,
        "requirement": selectors.team_requirement(incident=incident, members=members),
        "timeline": list(selectors.incident_timeline(incident=incident)),
        "notifications": list(selectors.incident_notifications(incident=incident)[:50]),
        "transitions": [(to, Status(to).label) for to in allowed if to != "monitoring"],
        "can_ack": "monitoring" in allowed,
        "can_triage": user.has_perm(perm("triage_incident")),
        "can_lower": user.has_perm(perm("lower_severity")),
        "can_team": user.has_perm(perm("manage_team")),
        "can_milestone": user.has_perm(perm("record_milestone")),
        "panels": incident_panels(incident_id=incident.pk),
        "transition_form": TransitionForm(),
        "severity_form": SeverityForm(initial={"severity": incident.severity}),
        "type_form": CrisisTypeForm(initial={"crisis_type": incident.crisis_type}),
        "milestone_form": MilestoneForm(),
        "team_form": TeamMemberForm(),
        "merge_form": MergeForm(),
        "survivor": incident.merged_into,
        "duplicates": list(incident.duplicates.all()),
    }
    return render(request, "crisis/incident_detail.html", context)


@require_POST
@capability_required("acknowledge_incident")
def incident_ack(request: HtmxHttpRequest, incident_id: int) -> HttpResponse:
    incident = incident_for_user(request, incident_id)
    try:
        services.incident_acknowledge(incident=incident, actor=request_actor(request))
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Incident #%(id)s acknowledged.") % {"id": incident.pk})
    if request.htmx:
        # The board's one-click button: reload the page, which shows the message.
        return HttpResponseClientRefresh()
    return back_to_incident(request, incident)


@require_GET
def incident_ack_link(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """The signed link in every page: after login it acknowledges and lands on the incident."""
    try:
        incident_id = services.ack_token_read(token=token)
    except signing.SignatureExpired:
        messages.error(request, _("This acknowledge link has expired; acknowledge on the page."))
        return redirect("incident_board")
    except (signing.BadSignature, ValueError):
        messages.error(request, _("This acknowledge link is not valid."))
        return redirect("incident_board")
    incident = get_object_or_404(Incident, pk=incident_id)
    require_capability(request.user, "acknowledge_incident")
    try:
        services.incident_acknowledge(incident=incident, actor=request_actor(request))
    except ServiceError as exc:
        messages.info(request, str(exc))
    else:
        messages.success(request, _("Incident #%(id)s acknowledged.") % {"id": incident.pk})
    return redirect("incident_detail", incident_id=incident.pk)


@require_POST
def incident_transition(request: HtmxHttpRequest, incident_id: int) -> HttpResponse:
    def act(incident: Incident, data: dict[str, Any]) -> Outcome:
        to = data["to"]
        severity = data["severity"] or None
        policies.require_transition(request.user, to=to)
        policies.require_severity_change(request.user, incident=incident, severity=severity)
        services.incident_transition(
            incident=incident,
            to=to,
            actor=request_actor(request),
            reason=data["reason"],
            affected_platforms=data["affected_platforms"] or None,
            estimated_reach=data["estimated_reach"],
            severity=severity,
        )
        return _("Status changed to %(status)s.") % {"status": Status(to).label}

    return incident_form_action(request, incident_id, TransitionForm, act)


@require_POST
def incident_severity(request: HtmxHttpRequest, incident_id: int) -> HttpResponse:
    def act(incident: Incident, data: dict[str, Any]) -> Outcome:
        severity = data["severity"]
        policies.require_severity_set(request.user, incident=incident, severity=severity)
        services.incident_set_severity(
            incident=incident,
            severity=severity,
            actor=request_actor(request),
            reason=data["reason"],
        )
        return None

    return incident_form_action(request, incident_id, SeverityForm, act)


@require_POST
@capability_required("triage_incident")
def incident_type(request: HtmxHttpRequest, incident_id: int) -> HttpResponse:
    def act(incident: Incident, data: dict[str, Any]) -> Outcome:
        services.incident_set_type(
            incident=incident,
            crisis_type=data["crisis_type"],
            actor=request_actor(request),
            reason=data["reason"],
        )
        return None

    return incident_form_action(request, incident_id, CrisisTypeForm, act)


@require_POST
@capability_required("record_milestone")
def incident_milestone(request: HtmxHttpRequest, incident_id: int) -> HttpResponse:
    def act(incident: Incident, data: dict[str, Any]) -> Outcome:
        row = services.milestone_record_by_hand(
            incident=incident,
            kind=data["kind"],
            actor=request_actor(request),
            evidence_url=data["evidence_url"] or None,
            note=data["note"],
        )
        if row is None:
            return (messages.INFO, _("That milestone is already met or does not apply."))
        return _("Milestone recorded.")

    return incident_form_action(request, incident_id, MilestoneForm, act)


@require_POST
@capability_required("manage_team")
def incident_team_add(request: HtmxHttpRequest, incident_id: int) -> HttpResponse:
    def act(incident: Incident, data: dict[str, Any]) -> Outcome:
        services.team_member_add(
            incident=incident,
            user=data["user"],
            actor=request_actor(request),
            role=data["role"],
            department=data["department"] or None,
        )
        return None

    return incident_form_action(request, incident_id, TeamMemberForm, act)


@require_POST
@capability_required("manage_team")
def incident_team_remove(
    request: HtmxHttpRequest, incident_id: int, member_id: int
) -> HttpResponse:
    incident = incident_for_user(request, incident_id)
    member = get_object_or_404(TeamMember, pk=member_id, incident=incident)
    services.team_member_remove(member=member, actor=request_actor(request))
    return back_to_incident(request, incident)


@require_POST
@capability_required("triage_incident")
def incident_merge(request: HtmxHttpRequest, incident_id: int) -> HttpResponse:
    incident = incident_for_user(request, incident_id)
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return back_to_incident(request, incident)
    survivor = Incident.objects.filter(pk=form.cleaned_data["survivor"]).first()
    if survivor is None:
        messages.error(request, _("There is no incident with that number."))
        return back_to_incident(request, incident)
    try:
        services.incident_merge(
            duplicate=incident,
            survivor=survivor,
            actor=request_actor(request),
            reason=form.cleaned_data["reason"],
        )
    except ServiceError as exc:
        messages.error(request, str(exc))
        return back_to_incident(request, incident)
    messages.success(request, _("Merged into #%(id)s.") % {"id": survivor.pk})
    return redirect("incident_detail", incident_id=survivor.pk)


# --- roster ---------------------------------------------------------------------------------

ROSTER_AUDIT = [AuditAction.SHIFT_CREATED, AuditAction.SHIFT_DELETED, AuditAction.POLICY_UPDATED]


@require_GET
@capability_required("view_console")
def roster(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=8)
    shifts = list(selectors.roster_shifts(start=start, end=end))
    days = []
    for offset in range(8):
        day_start = start + timedelta(days=offset)
        day_end = day_start + timedelta(days=1)
        days.append((day_start, [s for s in shifts if s.start < day_end and s.end > day_start]))
    return render(
        request,
        "crisis/roster.html",
        {
            "days": days,
            "on_duty": selectors.on_duty_now(now=now),
            "gaps": selectors.roster_gaps(start=now),
            "backup_gaps": selectors.roster_gaps(start=now, position="backup"),
            "can_edit": request.user.has_perm(perm("manage_roster")),
            "form": ShiftForm(),
            "policy": services.escalation_policy_default(),
            "audit": list(selectors.audit_recent(actions=ROSTER_AUDIT)),
        },
    )


@require_POST
@capability_required("manage_roster")
def roster_shift_add(request: HtmxHttpRequest) -> HttpResponse:
    form = ShiftForm(request.POST)
    if form.is_valid():
        try:
            services.duty_shift_create(
                user=form.cleaned_data["user"],
                position=form.cleaned_data["position"],
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
                actor=request_actor(request),
            )
        except ServiceError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Shift added."))
    else:
        messages.error(request, form_errors(form))
    return redirect("roster")


@require_POST
@capability_required("manage_roster")
def roster_shift_delete(request: HtmxHttpRequest, shift_id: int) -> HttpResponse:
    services.duty_shift_delete(shift_id=shift_id, actor=request_actor(request))
    messages.success(request, _("Shift deleted."))
    return redirect("roster")


@require_http_methods(["GET", "POST"])
@capability_required("manage_roster")
def escalation_policy_edit(request: HtmxHttpRequest) -> HttpResponse:
    # A GET only reads (the built-in values until someone saves); a POST saves the row.
    policy = (
        services.escalation_policy_ensure()
        if request.method == "POST"
        else services.escalation_policy_default()
    )
    initial = {
        "backup_after_minutes": policy.backup_after_minutes,
        "managers_after_minutes": policy.managers_after_minutes,
        "warning_fractions": ", ".join(f"{f:g}" for f in policy.warning_fractions or []),
        "progress_cadence_minutes": policy.progress_cadence_minutes,
        "breach_raises_severity": policy.breach_raises_severity,
    }
    form = PolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.escalation_policy_update(
                policy=policy,
                actor=request_actor(request),
                **form.cleaned_data,
            )
        except ServiceError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Escalation policy saved; it applies to new incidents."))
            return redirect("roster")
    audit = list(selectors.audit_recent(actions=[AuditAction.POLICY_UPDATED]))
    return render(request, "crisis/policy.html", {"form": form, "audit": audit})


# --- pages, notifications, profile ----------------------------------------------------------


@require_GET
@capability_required("view_console")
def my_pages(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request,
        "crisis/my_pages.html",
        {
            "open_pages": list(selectors.my_pages(user=request_actor(request))),
            "can_ack": request.user.has_perm(perm("acknowledge_incident")),
        },
    )


@require_GET
def notification_centre(request: HtmxHttpRequest) -> HttpResponse:
    items = list(selectors.inbox(user=request_actor(request))[:100])
    return render(request, "crisis/notifications.html", {"items": items})


@require_POST
def notifications_read(request: HtmxHttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("id") if i.isdigit()]
    services.notifications_mark_read(
        user=request_actor(request),
        delivery_ids=ids or None,
    )
    return redirect("notification_centre")


@require_http_methods(["GET", "POST"])
def profile(request: HtmxHttpRequest) -> HttpResponse:
    user = request_actor(request)
    prof = selectors.user_profile(user=user)
    form = ProfileForm(
        request.POST if request.POST.get("form") == "profile" else None,
        initial={"department": prof.department, "email_enabled": prof.email_enabled},
    )
    channel_form = ChannelForm(request.POST if request.POST.get("form") == "channel" else None)
    token_form = TokenForm(request.POST if request.POST.get("form") == "token" else None)
    new_token = ""
    if request.method == "POST":
        which = request.POST.get("form")
        if which == "profile" and form.is_valid():
            services.user_profile_update(user=user, **form.cleaned_data)
            messages.success(request, _("Profile saved."))
            return redirect("profile")
        if which == "channel" and channel_form.is_valid():
            try:
                services.user_channel_add(user=user, **channel_form.cleaned_data)
            except ServiceError as exc:
                channel_form.add_error("address", str(exc))
            else:
                messages.success(request, _("Channel added."))
                return redirect("profile")
        if which == "channel_remove":
            channel_id = request.POST.get("channel", "")
            if channel_id.isdigit():
                services.user_channel_remove(user=user, channel_id=int(channel_id))
            return redirect("profile")
        if which == "token" and token_form.is_valid():
            _token, new_token = services.api_token_issue(
                user=user,
                name=token_form.cleaned_data["name"],
            )
            token_form = TokenForm()
        if which == "token_revoke":
            token_id = request.POST.get("token", "")
            token = ApiToken.objects.filter(
                pk=token_id if token_id.isdigit() else 0, user=user
            ).first()
            if token is not None:
                services.api_token_revoke(token=token)
                messages.success(request, _("Token revoked."))
            return redirect("profile")
    return render(
        request,
        "crisis/profile.html",
        {
            "form": form,
            "channel_form": channel_form,
            "token_form": token_form,
            "channels": list(UserChannel.objects.filter(user=user)),
            "tokens": list(ApiToken.objects.filter(user=user)),
            "new_token": new_token,
        },
    )


@require_http_methods(["GET", "POST"])
@capability_required("manage_notifications")
def group_webhooks(request: HtmxHttpRequest) -> HttpResponse:
    form = GroupWebhookForm(request.POST if request.POST.get("form") == "add" else None)
    if request.method == "POST":
        if request.POST.get("form") == "delete":
            hook_id = request.POST.get("webhook", "")
            if hook_id.isdigit():
                services.group_webhook_delete(webhook_id=int(hook_id), actor=request_actor(request))
            return redirect("group_webhooks")
        if form.is_valid():
            try:
                services.group_webhook_create(**form.cleaned_data, actor=request_actor(request))
            except ServiceError as exc:
                form.add_error("address", str(exc))
            else:
                messages.success(request, _("Group webhook added."))
                return redirect("group_webhooks")
    hooks = list(GroupWebhook.objects.order_by("audience", "name"))
    audit = list(
        selectors.audit_recent(actions=[AuditAction.WEBHOOK_CREATED, AuditAction.WEBHOOK_DELETED])
    )
    return render(request, "crisis/webhooks.html", {"form": form, "hooks": hooks, "audit": audit})

"""The JSON API under /api/v1/. Routers of the other apps are attached in crisis/urls.py,
which is project wiring, so no import goes up the layers from here.

Auth: ``Authorization: Bearer <token>`` (``manage.py issue_token USERNAME``). The same role
capabilities apply as in the UI; refusals are JSON ``{"error": ...}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Router, Schema
from ninja import Status as Reply
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from crisis import policies, selectors, services
from crisis.models import OPEN_STATUSES, Incident, Severity, Status
from crisis.services import ServiceError

api = NinjaAPI(
    title="Fenghuo API",
    version="1",
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url=None,  # the bundled docs page loads Swagger UI from a CDN
)


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = services.api_token_authenticate(raw=token)
        if user is None:
            return None
        request.user = user
        return user


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(
        request, {"error": "Authentication required: Authorization: Bearer <token>"}, status=401
    )


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(
        request, {"error": "Invalid input.", "detail": exc.errors}, status=422
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"error": str(exc)}, status=exc.status_code)


@api.exception_handler(ServiceError)
def _refused(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    """Every refusal of any app's services, and of crisis.policies: 403, 409 or 400."""
    return api.create_response(request, {"error": str(exc)}, status=exc.status_code)


def _require(request: HttpRequest, codename: str) -> None:
    policies.require(request.user, codename)


class Error(Schema):
    error: str


class IncidentIn(Schema):
    title: str
    summary: str = ""
    crisis_type: str | None = None
    severity: str | None = None
    complexity: str = "normal"
    drill: bool = False


class TransitionIn(Schema):
    to: str
    reason: str = ""
    affected_platforms: list[str] | None = None
    estimated_reach: int | None = None
    severity: str | None = None


class MilestoneOut(Schema):
    kind: str
    due_at: datetime
    met_at: datetime | None
    state: str
    cancelled: bool


class TeamMemberOut(Schema):
    username: str
    role: str
    department: str


class TeamOut(Schema):
    members: list[TeamMemberOut]
    required_people: int
    actual_people: int
    shortfalls: list[str]


class IncidentSummaryOut(Schema):
    id: int
    title: str
    status: str
    severity: str
    crisis_type: str
    complexity: str
    detected_at: datetime
    drill: bool
    next_due_at: datetime | None = None


class IncidentOut(IncidentSummaryOut):
    summary: str
    acknowledged_at: datetime | None
    merged_into: int | None
    severity_score: float
    milestones: list[MilestoneOut]
    team: TeamOut


def _summary(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.pk,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity,
        "crisis_type": incident.crisis_type,
        "complexity": incident.complexity,
        "detected_at": incident.detected_at,
        "drill": incident.drill,
        "next_due_at": getattr(incident, "next_due_at", None),
    }


def _detail(incident: Incident) -> dict[str, Any]:
    members = list(incident.team.select_related("user"))
    req = selectors.team_requirement(incident=incident, members=members)
    return {
        **_summary(incident),
        "summary": incident.summary,
        "acknowledged_at": incident.acknowledged_at,
        "merged_into": incident.merged_into_id,
        "severity_score": incident.severity_score,
        "milestones": [
            {
                "kind": m.kind,
                "due_at": m.due_at,
                "met_at": m.met_at,
                "state": m.state,
                "cancelled": m.cancelled_at is not None,
            }
            for m in incident.milestones.order_by("due_at", "id")
        ],
        "team": {
            "members": [
                {"username": m.user.get_username(), "role": m.role, "department": m.department}
                for m in members
            ],
            "required_people": req.required_people,
            "actual_people": req.actual_people,
            "shortfalls": [str(s) for s in req.shortfalls],
        },
    }


router = Router(tags=["incidents"], auth=BearerToken())


@router.post("/incidents", response={201: IncidentOut, 400: Error, 403: Error})
def create_incident(request: HttpRequest, payload: IncidentIn) -> Reply[Any]:
    _require(request, "report_incident")
    try:
        incident = services.incident_open(
            title=payload.title,
            summary=payload.summary,
            crisis_type=payload.crisis_type,
            severity=payload.severity,
            complexity=payload.complexity,
            drill=payload.drill,
            reporter=request.user,  # type: ignore[arg-type]
            source="api",
        )
    except ServiceError as exc:
        return Reply(exc.status_code, {"error": str(exc)})
    return Reply(201, _detail(incident))


@router.get("/incidents", response={200: list[IncidentSummaryOut], 400: Error, 403: Error})
def list_incidents(request: HttpRequest, status: str = "", severity: str = "") -> Reply[Any]:
    _require(request, "view_console")
    if status and status not in Status.values:
        return Reply(400, {"error": f"unknown status {status!r}"})
    if severity and severity not in Severity.values:
        return Reply(400, {"error": f"unknown severity {severity!r}"})
    if status and status not in OPEN_STATUSES:
        qs = Incident.objects.filter(status=status)
        if severity:
            qs = qs.filter(severity=severity)
        rows = list(qs.order_by("-detected_at")[:500])
    else:
        rows = list(selectors.incident_board(status=status, severity=severity)[:500])
    return Reply(200, [_summary(i) for i in rows])


@router.get("/incidents/{incident_id}", response={200: IncidentOut, 403: Error, 404: Error})
def get_incident(request: HttpRequest, incident_id: int) -> Reply[Any]:
    _require(request, "view_console")
    return Reply(200, _detail(get_object_or_404(Incident, pk=incident_id)))


@router.post(
    "/incidents/{incident_id}/acknowledge",
    response={200: IncidentOut, 403: Error, 404: Error, 409: Error},
)
def acknowledge_incident(request: HttpRequest, incident_id: int) -> Reply[Any]:
    _require(request, "acknowledge_incident")
    incident = get_object_or_404(Incident, pk=incident_id)
    incident = services.incident_acknowledge(incident=incident, actor=request.user)  # type: ignore[arg-type]
    return Reply(200, _detail(incident))


@router.post(
    "/incidents/{incident_id}/transition",
    response={200: IncidentOut, 400: Error, 403: Error, 404: Error, 409: Error},
)
def transition_incident(
    request: HttpRequest, incident_id: int, payload: TransitionIn
) -> Reply[Any]:
    _require(request, "view_console")
    if payload.to not in Status.values or payload.to == "merged":
        return Reply(400, {"error": f"unknown target status {payload.to!r}"})
    policies.require_transition(request.user, to=payload.to)
    incident = get_object_or_404(Incident, pk=incident_id)
    policies.require_severity_change(request.user, incident=incident, severity=payload.severity)
    incident = services.incident_transition(
        incident=incident,
        to=payload.to,
        actor=request.user,  # type: ignore[arg-type]
        reason=payload.reason,
        affected_platforms=payload.affected_platforms,
        estimated_reach=payload.estimated_reach,
        severity=payload.severity,
    )
    return Reply(200, _detail(incident))


api.add_router("/", router)

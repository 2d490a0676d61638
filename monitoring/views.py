from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crisis import policies
from crisis.errors import ServiceError
from crisis.permissions import capability_required
from crisis.web import HtmxHttpRequest, unchanged_panel
from monitoring import selectors, services, tasks
from monitoring.forms import (
    AlertAttachForm,
    AlertDismissForm,
    CorrectionForm,
    ImportForm,
    StreamFilterForm,
    TermForm,
    TermsImportForm,
    TopicForm,
    query_error_message,
)
from monitoring.models import Alert, Mention, RawItem, SensitiveTerm, Source, Topic

PAGE_SIZE = 50


def _offset(request: HttpRequest) -> int:
    raw = request.GET.get("offset", "0")
    return min(int(raw), 100_000) if raw.isdigit() else 0


@require_GET
@capability_required("view_console")
def stream(request: HtmxHttpRequest) -> HttpResponse:
    form = StreamFilterForm(request.GET or None)
    filters = form.filters() if request.GET else selectors.StreamFilters()
    offset = _offset(request)
    entries, has_more = selectors.mention_stream(filters, limit=PAGE_SIZE, offset=offset)
    query = request.GET.copy()
    query.pop("offset", None)
    context = {
        "form": form,
        "entries": entries,
        "has_more": has_more,
        "next_offset": offset + PAGE_SIZE,
        "query": query.urlencode(),
        "filters": filters,
        "can_correct": policies.can(request.user, "correct_analysis"),
        "correction_form": CorrectionForm(auto_id=False),
    }
    template = "monitoring/stream.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results" if offset == 0 else "#more"
    return render(request, template, context)


@require_POST
@capability_required("correct_analysis")
def mention_correct(request: HtmxHttpRequest, mention_id: int) -> HttpResponse:
    mention = get_object_or_404(Mention.objects.select_related("source", "cluster"), pk=mention_id)
    form = CorrectionForm(request.POST, auto_id=False)
    if form.is_valid():
        services.mention_correct(
            mention=mention,
            actor=request.user,  # type: ignore[arg-type]
            polarity=form.cleaned_data["polarity"],
            crisis_type=form.crisis_type_value,
            note=form.cleaned_data["note"],
        )
        if not request.htmx:
            messages.success(request, _("Correction saved."))
    elif not request.htmx:
        messages.error(
            request,
            " ".join(str(e) for e in form.non_field_errors()) or _("Check the correction."),
        )
    if not request.htmx:
        return redirect(request.POST.get("next") or reverse("monitoring_index"))
    entry = selectors.StreamEntry(mention, int(request.POST.get("folded", "1") or 1))
    return render(
        request,
        "monitoring/stream.html#mention",
        {
            "entry": entry,
            "can_correct": True,
            "correction_form": CorrectionForm(auto_id=False) if form.is_valid() else form,
            "saved": form.is_valid(),
        },
    )


@require_GET
@capability_required("view_console")
def sources(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "sources": selectors.sources_with_health(),
        "can_manage": policies.can(request.user, "manage_sources"),
    }
    return render(request, "monitoring/sources.html", context)


@require_POST
@capability_required("manage_sources")
def source_poll_now(request: HtmxHttpRequest, source_id: int) -> HttpResponse:
    source = get_object_or_404(Source, pk=source_id)
    if not source.is_polled:
        messages.error(request, _("Only feeds and polled APIs can be polled."))
    else:
        token = services.source_claim_poll_now(source=source)
        if token is None:
            messages.warning(
                request, _("A poll of %(name)s is already running.") % {"name": source}
            )
        else:
            tasks.source_poll.delay(source.pk, token)
            messages.success(request, _("Polling %(name)s now.") % {"name": source})
    return redirect("monitoring_sources")


@require_http_methods(["GET", "POST"])
@capability_required("manage_sources")
def import_file(request: HtmxHttpRequest) -> HttpResponse:
    max_bytes = services.max_body_bytes()
    form = ImportForm(request.POST or None, request.FILES or None, max_bytes=max_bytes)
    raw: RawItem | None = None
    outcome = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        source = form.cleaned_data["source"]
        raw, outcome = services.ingest_payload(
            body=upload.read(),
            channel=RawItem.Channel.UPLOAD,
            source=source,
            filename=upload.name or "",
            content_type=upload.content_type or "",
            fmt=form.cleaned_data["fmt"],
            uploaded_by=request.user,  # type: ignore[arg-type]
        )
    status = (
        400
        if request.method == "POST"
        and (
            not form.is_valid() or (outcome is not None and outcome.status == RawItem.Status.FAILED)
        )
        else 200
    )
    context = {
        "form": form,
        "raw": raw,
        "outcome": outcome,
        "line_numbers": raw is not None and raw.parsed_format in ("jsonl", "csv"),
        "max_mb": round(max_bytes / (1024 * 1024), 1),
        "recent": selectors.recent_imports(),
    }
    return render(request, "monitoring/import.html", context, status=status)


# --- watch topics, alerts, terms, dashboard (issue 5) ----------------------------------------


def _dashboard_context() -> dict[str, Any]:
    from monitoring import charts

    rows = selectors.dashboard_rows()
    # monitoring.charts XML-escapes every label it draws, the topic name included.
    return {
        "rows": [
            (row, mark_safe(charts.sparkline(row.spark, label=row.topic.name)))  # noqa: S308
            for row in rows
        ],
        "token": selectors.dashboard_token(),
    }


@require_GET
@capability_required("view_console")
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    context = _dashboard_context()
    context["can_manage"] = policies.can(request.user, "manage_sources")
    return render(request, "monitoring/dashboard.html", context)


@require_GET
@capability_required("view_console")
def dashboard_panel(request: HtmxHttpRequest) -> HttpResponse:
    """The live table; an unchanged dashboard answers 204 (htmx keeps the DOM)."""
    unchanged = unchanged_panel(request, selectors.dashboard_token())
    if unchanged is not None:
        return unchanged
    return render(request, "monitoring/dashboard.html#dashboard-panel", _dashboard_context())


def _topic_or_404(topic_id: int) -> Topic:
    return get_object_or_404(Topic, pk=topic_id)


@require_GET
@capability_required("view_console")
def topic_detail(request: HtmxHttpRequest, topic_id: int) -> HttpResponse:
    topic = _topic_or_404(topic_id)
    hours = 6 if request.GET.get("range") != "24h" else 24
    since = timezone.now() - timedelta(hours=hours)
    chart_svgs = selectors.charts_for(topic_ids=[topic.pk], since=since)
    context = {
        "topic": topic,
        "range": "24h" if hours == 24 else "6h",
        # The SVGs come from monitoring.charts, which XML-escapes every label and value.
        "charts": {k: mark_safe(v) for k, v in chart_svgs.items()},  # noqa: S308
        "keywords": selectors.topic_keywords(topic=topic, since=since),
        "top_posts": selectors.topic_top_posts(topic=topic, since=since),
        "alerts": topic.alerts.select_related("incident").order_by("-last_seen_at")[:20],
        "can_manage": policies.can(request.user, "manage_sources"),
    }
    return render(request, "monitoring/topic_detail.html", context)


def _topic_initial(topic: Topic) -> dict[str, Any]:
    return {
        "name": topic.name,
        "description": topic.description,
        "query": topic.query,
        "exclusions": topic.exclusions,
        "platforms": topic.platforms,
        "thresholds": topic.thresholds or {},
        "enabled": topic.enabled,
    }


@require_http_methods(["GET", "POST"])
@capability_required("manage_sources")
def topic_edit(request: HtmxHttpRequest, topic_id: int | None = None) -> HttpResponse:
    topic = _topic_or_404(topic_id) if topic_id is not None else None
    if request.method == "POST":
        form = TopicForm(request.POST)
    else:
        form = TopicForm(initial=_topic_initial(topic) if topic else {"enabled": True})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {
            "name": data["name"],
            "description": data["description"],
            "query": data["query"],
            "exclusions": data["exclusions"],
            "platforms": data["platforms"],
            "thresholds": data["thresholds"] or {},
            "enabled": data["enabled"],
        }
        if topic is None:
            topic = services.topic_create(actor=request.user, **values)  # type: ignore[arg-type]
        else:
            topic = services.topic_update(topic=topic, **values)
        messages.success(request, _("Topic %(name)s saved.") % {"name": topic.name})
        return redirect("monitoring_topic", topic_id=topic.pk)
    context = {
        "form": form,
        "topic": topic,
        "hints": selectors.topic_rule_hints(topic=topic) if topic else [],
        "preview": _preview(form.data if request.method == "POST" else form.initial),
        "defaults": services.detection_config(None).to_dict(),
    }
    return render(
        request,
        "monitoring/topic_form.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


@dataclass
class _Preview:
    error: Any = None
    error_field: str = ""
    before: str = ""
    marked: str = ""
    after: str = ""
    matches: list[Mention] = field(default_factory=list)
    by_platform: list[tuple[str, int]] = field(default_factory=list)
    scanned: int = 0


def _preview(data: Any) -> _Preview:
    """Which of the last N mentions the rule being edited matches, or where it is wrong."""
    from monitoring.rules import QuerySyntaxError, TopicMatcher, TopicSpec

    query = str(data.get("query") or "")
    exclusions = str(data.get("exclusions") or "")
    if hasattr(data, "getlist"):
        platforms = [p for p in data.getlist("platforms") if p]
    else:
        platforms = list(data.get("platforms") or [])
    preview = _Preview()
    if not query.strip():
        return preview
    for name, text in (("query", query), ("exclusions", exclusions)):
        if name == "exclusions" and not text.strip():
            continue
        try:
            from monitoring.rules import parse_query

            parse_query(text)
        except QuerySyntaxError as exc:
            start = max(0, min(exc.position, len(text)))
            end = max(start, min(len(text), start + max(exc.length, 1)))
            preview.error = query_error_message(exc)
            preview.error_field = name
            preview.before, preview.marked, preview.after = (
                text[:start],
                text[start:end],
                text[end:],
            )
            return preview
    try:
        matcher = TopicMatcher.build(
            [
                TopicSpec(
                    id=1,
                    query=query,
                    exclusions=exclusions or None,
                    platforms=frozenset(platforms) or None,
                )
            ]
        )
    except (QuerySyntaxError, ValueError) as exc:
        preview.error = str(exc)
        return preview
    recent = selectors.preview_mentions(limit=PREVIEW_SIZE)
    preview.scanned = len(recent)
    counts: dict[str, int] = {}
    for mention in recent:
        if matcher.match(
            mention.text,
            platform=mention.platform,
            author=mention.author_name or None,
            location=mention.location or None,
        ):
            preview.matches.append(mention)
            counts[mention.get_platform_display()] = (
                counts.get(mention.get_platform_display(), 0) + 1
            )
    preview.by_platform = sorted(counts.items(), key=lambda kv: -kv[1])
    return preview


PREVIEW_SIZE = 200


@require_http_methods(["GET", "POST"])
@capability_required("manage_sources")
def topic_preview(request: HtmxHttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    return render(
        request,
        "monitoring/topic_form.html#preview",
        {"preview": _preview(data), "preview_size": PREVIEW_SIZE},
    )


@require_GET
@capability_required("view_console")
def alerts(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "monitoring/alerts.html", _alerts_context(request))


def _alerts_context(request: HttpRequest) -> dict[str, Any]:
    status = request.GET.get("status", "")
    if status not in (*Alert.Status.values, "all", ""):
        status = ""
    return {
        "alerts": selectors.alert_queue(status=status),
        "status": status,
        "status_choices": Alert.Status.choices,
        "token": selectors.alert_queue_token(status=status),
        "can_act": policies.can(request.user, "triage_incident"),
        "dismiss_form": AlertDismissForm(auto_id=False),
        "attach_form": AlertAttachForm(auto_id=False),
    }


@require_GET
@capability_required("view_console")
def alerts_panel(request: HtmxHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    unchanged = unchanged_panel(request, selectors.alert_queue_token(status=status))
    if unchanged is not None:
        return unchanged
    return render(request, "monitoring/alerts.html#queue", _alerts_context(request))


def _alert_done(request: HtmxHttpRequest, message: str, *, error: bool = False) -> HttpResponse:
    if request.htmx:
        context = _alerts_context(request)
        context["flash"] = message
        context["flash_error"] = error
        return render(
            request, "monitoring/alerts.html#queue", context, status=400 if error else 200
        )
    (messages.error if error else messages.success)(request, message)
    return redirect("monitoring_alerts")


@require_POST
@capability_required("triage_incident")
def alert_action(request: HtmxHttpRequest, alert_id: int, action: str) -> HttpResponse:
    from crisis.models import Incident

    alert = get_object_or_404(Alert, pk=alert_id)
    actor = request.user
    try:
        if action == "ack":
            services.alert_acknowledge(alert=alert, actor=actor)  # type: ignore[arg-type]
            return _alert_done(request, _("Alert acknowledged."))
        if action == "dismiss":
            form = AlertDismissForm(request.POST)
            if not form.is_valid():
                return _alert_done(
                    request, _("Say why this alert is a false positive."), error=True
                )
            services.alert_dismiss(alert=alert, actor=actor, reason=form.cleaned_data["reason"])  # type: ignore[arg-type]
            return _alert_done(request, _("Alert dismissed as a false positive."))
        if action == "attach":
            attach = AlertAttachForm(request.POST)
            incident = (
                Incident.objects.filter(pk=attach.cleaned_data["incident"]).first()
                if attach.is_valid()
                else None
            )
            if incident is None:
                return _alert_done(request, _("No such incident."), error=True)
            services.alert_attach(alert=alert, incident=incident, actor=actor)  # type: ignore[arg-type]
            return _alert_done(
                request, _("Alert attached to incident #%(id)s.") % {"id": incident.pk}
            )
        if action == "open":
            incident = services.alert_open_incident(alert=alert, actor=actor)  # type: ignore[arg-type]
            return _alert_done(request, _("Incident #%(id)s opened.") % {"id": incident.pk})
    except ServiceError as exc:  # AlertActionError and the incident core's refusals alike
        return _alert_done(request, str(exc), error=True)
    return _alert_done(request, _("Unknown action."), error=True)


@require_http_methods(["GET", "POST"])
@capability_required("view_console")
def terms(request: HtmxHttpRequest) -> HttpResponse:
    from monitoring.rules import CATEGORIES

    can_manage = policies.can(request.user, "manage_sources")
    term_form = TermForm(prefix="term")
    import_form = TermsImportForm(prefix="csv")
    result = None
    status = 200
    if request.method == "POST":
        policies.require(request.user, "manage_sources")
        if "term-term" in request.POST:
            term_form = TermForm(request.POST, prefix="term")
            if term_form.is_valid():
                try:
                    saved = services.term_save(**term_form.cleaned_data)
                except ValueError as exc:
                    term_form.add_error("term", str(exc))
                    status = 400
                else:
                    messages.success(request, _("Term %(term)s saved.") % {"term": saved.term})
                    return redirect("monitoring_terms")
            else:
                status = 400
        else:
            import_form = TermsImportForm(request.POST, request.FILES, prefix="csv")
            if import_form.is_valid():
                upload = import_form.cleaned_data["file"]
                if upload.size > services.max_body_bytes():
                    import_form.add_error("file", _("The file is too large."))
                    status = 400
                else:
                    result = services.terms_import(
                        data=upload.read(), replace=import_form.cleaned_data["replace"]
                    )
            else:
                status = 400
    q = request.GET.get("q", "").strip()[:100]
    category = request.GET.get("category", "")
    rows = SensitiveTerm.objects.all()
    if q:
        rows = rows.filter(term__icontains=q)
    if category in CATEGORIES:
        rows = rows.filter(category=category)
    context = {
        "terms": rows[:500],
        "total": SensitiveTerm.objects.count(),
        "categories": CATEGORIES,
        "q": q,
        "category": category,
        "term_form": term_form,
        "import_form": import_form,
        "result": result,
        "can_manage": can_manage,
    }
    return render(request, "monitoring/terms.html", context, status=status)


@require_GET
@capability_required("view_console")
def terms_export(request: HtmxHttpRequest) -> HttpResponse:
    response = HttpResponse(selectors.terms_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="sensitive-terms.csv"'
    return response


@require_POST
@capability_required("manage_sources")
def term_delete(request: HtmxHttpRequest, term_id: int) -> HttpResponse:
    services.term_delete(term_id=term_id)
    return redirect("monitoring_terms")


@require_GET
@capability_required("view_console")
def incident_panel(request: HtmxHttpRequest, incident_id: int) -> HttpResponse:
    """Monitoring's panel on the incident page: evidence, signals, charts and propagation."""
    from crisis.models import Incident
    from monitoring.models import IncidentPropagation
    from monitoring.propagation import PropagationSummary, render_svg

    incident = get_object_or_404(Incident, pk=incident_id)
    incident_alerts = list(
        Alert.objects.filter(incident=incident).select_related("topic").order_by("first_seen_at")
    )
    topic_ids = sorted({a.topic_id for a in incident_alerts})
    evidence = list(
        Mention.objects.filter(alerts__incident=incident)
        .distinct()
        .order_by("-author_followers", "-posted_at")[:20]
    )
    # A GET only reads: the tree is built by monitoring.propagation_refresh (beat, every
    # minute), so a new incident shows "no propagation data yet" until then.
    propagation = IncidentPropagation.objects.filter(incident=incident).first()
    tree_svg = summary = None
    if propagation is not None and propagation.summary:
        summary = PropagationSummary.from_dict(propagation.summary)
        tree_svg = mark_safe(  # noqa: S308 - render_svg escapes every label
            render_svg(summary, title=_("Propagation paths"), depth_label=_("Level {depth}"))
        )
    chart_svgs = {}
    if topic_ids:
        since = incident.detected_at - timedelta(hours=1)
        chart_svgs = {
            k: mark_safe(v)  # noqa: S308 - monitoring.charts escapes
            for k, v in selectors.charts_for(topic_ids=topic_ids, since=since).items()
        }
    context = {
        "incident": incident,
        "alerts": incident_alerts,
        "evidence": evidence,
        "signals": sorted((incident.signals or {}).items()),
        "charts": chart_svgs,
        "tree_svg": tree_svg,
        "summary": summary,
        "propagation": propagation,
    }
    return render(request, "monitoring/incident_panel.html", context)

"""Monitoring in the Django admin: sources (with a mapping preview and token rotation),
the inbox, mentions and corrections. Writes go through services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from monitoring import services
from monitoring.ingest import FetchError, fetch_url, preview_mapping, validate_mapping
from monitoring.ingest import MappingError as IngestMappingError
from monitoring.models import Mention, MentionCluster, RawItem, SentimentCorrection, Source


class SourceAdminForm(forms.ModelForm):
    sample = forms.CharField(
        label=_("Sample response for the mapping preview"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "Paste a JSON response of the API to preview the mapping; leave empty to "
            "fetch the URL when saving with “Save and continue editing”."
        ),
    )

    class Meta:
        model = Source
        fields = [
            "name",
            "slug",
            "kind",
            "platform",
            "enabled",
            "url",
            "interval_seconds",
            "mapping",
            "signing_secret",
        ]

    def clean_mapping(self) -> dict[str, Any]:
        mapping = self.cleaned_data.get("mapping") or {}
        if self.cleaned_data.get("kind") == Source.Kind.JSON_API or mapping:
            try:
                validate_mapping(mapping)
            except IngestMappingError as exc:
                raise forms.ValidationError(str(exc)) from None
        return mapping


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    form = SourceAdminForm
    list_display = [
        "name",
        "slug",
        "kind",
        "platform",
        "enabled",
        "consecutive_failures",
        "last_success_at",
        "last_error_at",
    ]
    list_filter = ["kind", "platform", "enabled"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["health", "mapping_preview"]
    actions = ["rotate_token"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        return [f for f in fields if f not in ("health", "mapping_preview")] + (
            ["health", "mapping_preview"] if obj else []
        )

    @admin.display(description=_("Health"))
    def health(self, obj: Source) -> str:
        return format_html(
            "{} · {}: {} · {}: {}",
            _("healthy") if obj.is_healthy else _("failing"),
            _("failures in a row"),
            obj.consecutive_failures,
            _("last error"),
            obj.last_error or "—",
        )

    @admin.display(description=_("Mapping preview"))
    def mapping_preview(self, obj: Source) -> str:
        if obj.kind != Source.Kind.JSON_API:
            return "—"
        sample = getattr(self, "_sample", "") or ""
        if sample:
            document: bytes = sample.encode("utf-8")
        else:
            try:
                document = fetch_url(obj.url, timeout=10, max_bytes=services.max_body_bytes()).body
            except FetchError as exc:
                return str(exc)
        preview = preview_mapping(document, obj.mapping, default_platform=obj.platform)
        if preview.error:
            return preview.error
        lines = []
        for row in preview.rows:
            if row.item is not None:
                item = row.item
                lines.append(
                    (
                        row.index,
                        f"{item.external_id} · {item.posted_at:%Y-%m-%d %H:%M} · "
                        f"{item.author_name or '—'} · {item.text[:80]}",
                    )
                )
            else:
                lines.append((row.index, row.error or ""))
        rows = format_html_join("", "<li>#{}: {}</li>", lines)
        return format_html("{} {}<ul>{}</ul>", preview.total_items, _("items"), rows)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        self._sample = request.POST.get("sample", "") if request.method == "POST" else ""
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Source, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        source, token = services.source_create(
            name=obj.name,
            slug=obj.slug,
            kind=obj.kind,
            platform=obj.platform,
            url=obj.url,
            mapping=obj.mapping,
            interval_seconds=obj.interval_seconds,
            signing_secret=obj.signing_secret,
            enabled=obj.enabled,
        )
        obj.pk = source.pk
        obj._state.adding = False
        if token:
            messages.warning(
                request,
                _("Bearer token of %(name)s (shown once, store it in the collector): %(token)s")
                % {"name": source.name, "token": token},
            )

    @admin.action(description=_("Rotate the bearer token (webhook sources)"))
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset.filter(kind=Source.Kind.WEBHOOK):
            token = services.source_rotate_token(source=source)
            messages.warning(
                request,
                _("New bearer token of %(name)s (shown once): %(token)s")
                % {"name": source.name, "token": token},
            )


@admin.register(RawItem)
class RawItemAdmin(admin.ModelAdmin):
    list_display = ["pk", "channel", "source", "status", "size", "created_count", "received_at"]
    list_filter = ["status", "channel"]
    exclude = ["body"]
    readonly_fields = [f.name for f in RawItem._meta.fields if f.name != "body"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Mention)
class MentionAdmin(admin.ModelAdmin):
    list_display = [
        "external_id",
        "platform",
        "author_name",
        "polarity",
        "crisis_type",
        "posted_at",
    ]
    list_filter = ["platform", "polarity", "crisis_type"]
    search_fields = ["external_id", "author_name"]
    raw_id_fields = ["source", "raw_item", "cluster"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(MentionCluster)
class MentionClusterAdmin(admin.ModelAdmin):
    list_display = ["pk", "size", "first_seen_at", "last_seen_at"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SentimentCorrection)
class SentimentCorrectionAdmin(admin.ModelAdmin):
    list_display = ["mention", "polarity", "crisis_type", "corrected_by", "created_at"]
    raw_id_fields = ["mention"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

from typing import Any

from django.contrib import admin

from crisis.models import (
    ApiToken,
    Delivery,
    DutyShift,
    EscalationPolicy,
    GroupWebhook,
    Heartbeat,
    Incident,
    Notification,
    SlaMilestone,
    TeamMember,
    TimelineEvent,
    UserChannel,
    UserProfile,
)
from crisis.services import api_token_revoke


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ("service", "node", "pid", "beat_at")
    readonly_fields = ("service", "node", "pid", "beat_at")


class MilestoneInline(admin.TabularInline):
    model = SlaMilestone
    extra = 0
    fields = ("kind", "due_at", "warned_at", "breached_at", "met_at", "met_by", "cancelled_at")
    readonly_fields = fields
    can_delete = False


class TeamInline(admin.TabularInline):
    model = TeamMember
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "status", "severity", "crisis_type", "detected_at", "drill")
    list_filter = ("status", "severity", "crisis_type", "complexity", "drill")
    search_fields = ("title", "summary")
    date_hierarchy = "detected_at"
    # Status, severity and type change only through services (they write the timeline).
    readonly_fields = (
        "status",
        "severity",
        "crisis_type",
        "acknowledged_at",
        "acknowledged_by",
        "merged_into",
        "escalation_snapshot",
        "escalation_step",
        "escalation_next_at",
        "severity_score",
        "signals",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("reporter",)
    inlines = [MilestoneInline, TeamInline]


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    """Append-only: readable, never editable."""

    list_display = ("incident", "at", "kind", "field", "from_value", "to_value", "actor")
    list_filter = ("kind",)
    search_fields = ("incident__title", "reason")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = ("user", "group_webhook", "channel", "address", "status", "attempts", "detail")
    readonly_fields = fields
    can_delete = False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("dedupe_key", "reason", "level", "incident", "created_at", "fired_for")
    list_filter = ("reason",)
    search_fields = ("dedupe_key", "title")
    readonly_fields = [f.name for f in Notification._meta.fields]
    inlines = [DeliveryInline]

    def has_add_permission(self, request: Any) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("notification", "channel", "user", "status", "attempts", "sent_at")
    list_filter = ("status", "channel")
    raw_id_fields = ("notification", "user", "group_webhook")


@admin.register(DutyShift)
class DutyShiftAdmin(admin.ModelAdmin):
    list_display = ("user", "position", "start", "end")
    list_filter = ("position",)
    date_hierarchy = "start"


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    list_display = ("name", "is_default", "backup_after_minutes", "managers_after_minutes")


@admin.register(GroupWebhook)
class GroupWebhookAdmin(admin.ModelAdmin):
    list_display = ("name", "audience", "kind", "enabled")


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "department", "email_enabled")


@admin.register(UserChannel)
class UserChannelAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "enabled")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request: Any) -> bool:
        return False  # issue tokens with `manage.py issue_token` or on the profile page

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: Any, queryset: Any) -> None:
        for token in queryset:
            api_token_revoke(token=token)

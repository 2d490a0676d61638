from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crisis.channels import channel_choices
from crisis.roles import CAPABILITIES


class AccessPolicy(models.Model):
    """Holds the role capabilities as permissions; it has no table of its own."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(code, desc) for code, (desc, _roles) in CAPABILITIES.items()]
        verbose_name = _("access policy")

    def __str__(self) -> str:
        return "access policy"


class Heartbeat(models.Model):
    """The last sign of life of a background process, read by /healthz."""

    service = models.CharField(max_length=32)
    node = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    beat_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "node"], name="heartbeat_service_node")
        ]
        verbose_name = _("heartbeat")

    def __str__(self) -> str:
        return f"{self.service}@{self.node}"


# --- incident core --------------------------------------------------------------------------


class CrisisType(models.TextChoices):
    FALSE_INFORMATION = "false_information", _("False information")
    EXAGGERATED_CLAIMS = "exaggerated_claims", _("Exaggerated claims")
    WRONG_DATA = "wrong_data", _("Wrong data published")
    NEGATIVE_COMMENT_SURGE = "negative_comment_surge", _("Negative comment surge")
    COMPLAINT_OUTBREAK = "complaint_outbreak", _("Complaint outbreak")
    ACCOUNT_BANNED = "account_banned", _("Official account banned")
    IMPROPER_ADVERTISING = "improper_advertising", _("Improper advertising")
    CHAOTIC_EVENT = "chaotic_event", _("Chaotic event")
    TECHNICAL_FAILURE = "technical_failure", _("Technical failure")


CRISIS_CATEGORIES: dict[str, tuple[str, ...]] = {
    "misinformation": ("false_information", "exaggerated_claims", "wrong_data"),
    "interaction_failure": ("negative_comment_surge", "complaint_outbreak", "account_banned"),
    "operational_error": ("improper_advertising", "chaotic_event", "technical_failure"),
}
CRISIS_CATEGORY_LABELS = {
    "misinformation": _("Misinformation"),
    "interaction_failure": _("Interaction failure"),
    "operational_error": _("Operational error"),
}


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")
    MODERATE = "moderate", _("Moderate")
    SEVERE = "severe", _("Severe")


SEVERITY_ORDER = ("minor", "moderate", "severe")


def severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity)


class Complexity(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency")
    NORMAL = "normal", _("Normal")
    COMPLEX = "complex", _("Complex")


class Status(models.TextChoices):
    DETECTED = "detected", _("Detected")
    MONITORING = "monitoring", _("Under monitoring")
    ASSESSED = "assessed", _("Assessed")
    RESPONDING = "responding", _("Responding")
    RECOVERING = "recovering", _("Recovering")
    RESOLVED = "resolved", _("Resolved")
    REVIEWED = "reviewed", _("Reviewed")
    DISMISSED = "dismissed", _("Dismissed")
    MERGED = "merged", _("Merged")


# Statuses in which the clocks run and the incident shows on the board.
OPEN_STATUSES = ("detected", "monitoring", "assessed", "responding", "recovering")
# A merge is possible while the incident is still being handled.
MERGEABLE_STATUSES = OPEN_STATUSES


class Incident(models.Model):
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    crisis_type = models.CharField(
        _("crisis type"), max_length=32, choices=CrisisType.choices, blank=True
    )
    severity = models.CharField(
        _("severity"), max_length=16, choices=Severity.choices, default=Severity.MINOR
    )
    complexity = models.CharField(
        _("complexity"), max_length=16, choices=Complexity.choices, default=Complexity.NORMAL
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DETECTED
    )
    detected_at = models.DateTimeField(_("detected at"))
    drill = models.BooleanField(_("drill"), default=False)
    source = models.CharField(_("source"), max_length=16, default="manual")
    reporter = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Scope, recorded when the scope is confirmed.
    affected_platforms = models.JSONField(default=list, blank=True)
    estimated_reach = models.BigIntegerField(null=True, blank=True)
    # The last signals from monitoring and the score computed from them.
    signals = models.JSONField(default=dict, blank=True)
    severity_score = models.FloatField(default=0)
    dismiss_reason = models.TextField(blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    # The escalation policy as it was when the incident opened; later edits of the policy
    # do not change a running chain.
    escalation_snapshot = models.JSONField(default=dict, blank=True)
    escalation_step = models.PositiveSmallIntegerField(default=0)
    escalation_next_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by every service that changes what the board shows: the board's change token.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-detected_at"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [
            models.Index(fields=["status", "severity"], name="incident_status_sev"),
            models.Index(
                fields=["escalation_next_at"],
                name="incident_escalation_due",
                condition=models.Q(escalation_next_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def crisis_category(self) -> str:
        for category, types in CRISIS_CATEGORIES.items():
            if self.crisis_type in types:
                return category
        return ""


class MilestoneKind(models.TextChoices):
    MONITORING_STARTED = "monitoring_started", _("Monitoring started")
    SCOPE_CONFIRMED = "scope_confirmed", _("Scope confirmed")
    INITIAL_STATEMENT = "initial_statement", _("Initial statement")
    DETAILED_REPLY = "detailed_reply", _("Detailed reply")
    COMPLETE_PLAN = "complete_plan", _("Complete plan")
    PROGRESS_UPDATE = "progress_update", _("Progress update")


class SlaMilestone(models.Model):
    """One SLA clock. ``next_check_at`` is when the scanner must look at it next (the next
    warning fraction or the deadline); it is cleared once the clock has nothing left to say."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="milestones")
    kind = models.CharField(max_length=32, choices=MilestoneKind.choices)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    next_check_at = models.DateTimeField(null=True, blank=True)
    # How many of the policy's warning fractions have been sent.
    warnings_sent = models.PositiveSmallIntegerField(default=0)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    met_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    evidence_url = models.CharField(max_length=500, blank=True)
    note = models.TextField(blank=True)
    # Set when the clock no longer applies (incident closed, merged, progress cadence ended).
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        verbose_name = _("SLA milestone")
        verbose_name_plural = _("SLA milestones")
        indexes = [
            models.Index(
                fields=["next_check_at"],
                name="milestone_check_due",
                condition=models.Q(next_check_at__isnull=False),
            ),
            models.Index(fields=["incident", "due_at"], name="milestone_incident_due"),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id}:{self.kind}"

    @property
    def state(self) -> str:
        """pending | warned | met | breached | cancelled (the API's vocabulary)."""
        if self.met_at is not None:
            return "met"
        if self.breached_at is not None:
            return "breached"
        if self.cancelled_at is not None:
            return "cancelled"
        if self.warned_at is not None:
            return "warned"
        return "pending"

    @property
    def met_late(self) -> bool:
        return self.met_at is not None and self.met_at > self.due_at


class TimelineEvent(models.Model):
    """Append-only history of an incident: who changed what, when and why."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField()
    actor = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=32)
    field = models.CharField(max_length=32, blank=True)
    from_value = models.CharField(max_length=200, blank=True)
    to_value = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        indexes = [models.Index(fields=["incident", "at"], name="timeline_incident_at")]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.kind} {self.from_value}→{self.to_value}"


class Department(models.TextChoices):
    PR = "pr", _("Public relations")
    LEGAL = "legal", _("Legal")
    EXECUTIVE = "executive", _("Executive office")
    CUSTOMER_SERVICE = "customer_service", _("Customer service")
    PRODUCT = "product", _("Product")
    TECHNOLOGY = "technology", _("Technology")
    MARKETING = "marketing", _("Marketing")
    OPERATIONS = "operations", _("Operations")


class TeamRole(models.TextChoices):
    LEAD = "lead", _("Lead")
    MEMBER = "member", _("Member")
    SPOKESPERSON = "spokesperson", _("Spokesperson")
    LEGAL = "legal", _("Legal counsel")
    EXECUTIVE = "executive", _("Executive")


class TeamMember(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="team")
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16, choices=TeamRole.choices, default=TeamRole.MEMBER)
    department = models.CharField(max_length=32, choices=Department.choices)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "user"], name="team_member_unique")
        ]
        ordering = ["added_at", "id"]
        verbose_name = _("team member")
        verbose_name_plural = _("team members")

    def __str__(self) -> str:
        return f"{self.incident_id}:{self.user_id}"


class ShiftPosition(models.TextChoices):
    PRIMARY = "primary", _("Primary")
    BACKUP = "backup", _("Backup")


class DutyShift(models.Model):
    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="duty_shifts")
    position = models.CharField(max_length=16, choices=ShiftPosition.choices)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))

    class Meta:
        ordering = ["start", "position"]
        verbose_name = _("duty shift")
        verbose_name_plural = _("duty shifts")
        indexes = [models.Index(fields=["position", "start", "end"], name="shift_pos_span")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="shift_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.position} {self.user_id} {self.start:%Y-%m-%d %H:%M}"


class EscalationPolicy(models.Model):
    """The paging chain and SLA warning settings. The one marked default applies to new
    incidents, which keep a snapshot of it."""

    name = models.CharField(_("name"), max_length=100)
    is_default = models.BooleanField(_("default"), default=False)
    backup_after_minutes = models.PositiveIntegerField(
        _("page the backup after (minutes)"), default=5
    )
    managers_after_minutes = models.PositiveIntegerField(
        _("page the managers after (minutes)"), default=15
    )
    warning_fractions = models.JSONField(_("warning fractions"), default=list, blank=True)
    progress_cadence_minutes = models.PositiveIntegerField(
        _("progress update cadence (minutes)"), default=120
    )
    breach_raises_severity = models.JSONField(
        _("milestones whose breach raises severity"), default=list, blank=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_escalation_policy",
            )
        ]

    def __str__(self) -> str:
        return self.name


class NotificationReason(models.TextChoices):
    NEW_INCIDENT = "new_incident", _("New incident")
    ESCALATION = "escalation", _("Escalation")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_BREACH = "sla_breach", _("SLA breach")
    SEVERITY_RAISED = "severity_raised", _("Severity raised")
    BROADCAST = "broadcast", _("Broadcast")


class Notification(models.Model):
    """The ledger: one row per thing worth telling people. ``dedupe_key`` is unique, so a
    warning, breach or page is written (and sent) once whichever worker gets there first."""

    dedupe_key = models.CharField(max_length=200, unique=True)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    milestone = models.ForeignKey(
        SlaMilestone, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    reason = models.CharField(max_length=32, choices=NotificationReason.choices)
    # "warning:1", "breach", "step:0", ... : the step of the reason this row stands for.
    level = models.CharField(max_length=32)
    severity = models.CharField(max_length=16, default="warning")  # info|warning|critical
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)
    # When the condition behind it became true (due time of a warning, say): lateness is
    # created_at - fired_for.
    fired_for = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "milestone", "level"],
                condition=models.Q(milestone__isnull=False),
                name="notification_once_per_milestone_level",
            )
        ]

    def __str__(self) -> str:
        return self.dedupe_key


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    RETRY = "retry", _("Will retry")
    FAILED = "failed", _("Failed")


class Delivery(models.Model):
    """One notification to one recipient on one channel, with its outcome.

    The in-app channel is a delivery too: it is "sent" on creation and read by its user.
    """

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    user = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    group_webhook = models.ForeignKey(
        "GroupWebhook", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=16)
    address = models.CharField(max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "user", "channel", "address"],
                name="delivery_once_per_recipient_channel",
                nulls_distinct=False,
            )
        ]
        indexes = [
            models.Index(
                fields=["user", "channel", "read_at"],
                name="delivery_inbox",
            ),
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_retry_due",
                condition=models.Q(status__in=["pending", "retry"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notification_id}:{self.channel}:{self.user_id}"


class UserProfile(models.Model):
    user = models.OneToOneField("auth.User", on_delete=models.CASCADE, related_name="profile")
    department = models.CharField(
        _("department"), max_length=32, choices=Department.choices, default=Department.PR
    )
    email_enabled = models.BooleanField(_("send me e-mail"), default=True)

    class Meta:
        verbose_name = _("user profile")
        verbose_name_plural = _("user profiles")

    def __str__(self) -> str:
        return str(self.user_id)


class UserChannel(models.Model):
    """A personal chat channel a user chose (a bot in a one-person group, say)."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="channels")
    kind = models.CharField(_("channel"), max_length=16, choices=channel_choices)
    address = models.CharField(_("address"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    base_url = models.CharField(_("base URL"), max_length=300, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("personal channel")
        verbose_name_plural = _("personal channels")

    def __str__(self) -> str:
        return f"{self.user_id}:{self.kind}"


class GroupWebhook(models.Model):
    """A group chat bot that receives what goes to a role, or to every incident team."""

    AUDIENCE_TEAM = "team"

    name = models.CharField(_("name"), max_length=100)
    audience = models.CharField(_("audience"), max_length=32)
    kind = models.CharField(_("channel"), max_length=16, choices=channel_choices)
    address = models.CharField(_("address"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    base_url = models.CharField(_("base URL"), max_length=300, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("group webhook")
        verbose_name_plural = _("group webhooks")

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A bearer token for the API. Only a SHA-256 of the token is stored."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user_id})"


class AuditAction(models.TextChoices):
    ROLES_SET = "roles_set", _("Roles changed")
    POLICY_UPDATED = "policy_updated", _("Escalation policy changed")
    SHIFT_CREATED = "shift_created", _("Shift added")
    SHIFT_DELETED = "shift_deleted", _("Shift deleted")
    WEBHOOK_CREATED = "webhook_created", _("Group webhook added")
    WEBHOOK_DELETED = "webhook_deleted", _("Group webhook deleted")


class AuditEvent(models.Model):
    """Who changed a setting of the console that belongs to no incident (roles, escalation
    policy, roster, group webhooks). Append-only, like the timeline. Stores a code and its
    data; ``crisis.audit_text`` renders the sentence in the reader's language."""

    at = models.DateTimeField(_("when"), db_index=True)
    actor = models.ForeignKey(
        "auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=32, choices=AuditAction.choices)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["action", "-at"], name="audit_action_at")]

    def __str__(self) -> str:
        return f"{self.action}@{self.at:%Y-%m-%d %H:%M}"

"""Monitoring data: sources, the raw inbox, mentions, near-duplicate clusters, corrections.

Only data, choices and small derived properties live here; every write goes through
``monitoring.services``.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crisis.models import CRISIS_CATEGORIES, CRISIS_CATEGORY_LABELS, CrisisType
from monitoring.platforms import PLATFORMS

_PLATFORM_LABELS = {
    "weibo": _("Weibo"),
    "wechat": _("WeChat"),
    "douyin": _("Douyin"),
    "xiaohongshu": _("Xiaohongshu"),
    "news": _("News"),
    "forum": _("Forum"),
    "other": _("Other"),
}
# The codes are monitoring.platforms.PLATFORMS (a code without a label fails at import).
PLATFORM_CHOICES = [(code, _PLATFORM_LABELS[code]) for code in PLATFORMS]


class Polarity(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


# The playbook's crisis types, as the incident core defines them; the NLP layer returns
# one of these codes or "".
CRISIS_TYPE_CHOICES = list(CrisisType.choices)
# Grouped by category for <select>s: [(category label, [(code, label), ...]), ...].
CRISIS_TYPE_GROUPS = [
    (CRISIS_CATEGORY_LABELS[category], [(code, CrisisType(code).label) for code in codes])
    for category, codes in CRISIS_CATEGORIES.items()
]


def token_digest(token: str) -> str:
    """What is stored of a push token: its SHA-256 (the token itself is shown once)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Source(models.Model):
    class Kind(models.TextChoices):
        FEED = "feed", _("RSS / Atom / JSON Feed")
        JSON_API = "json_api", _("HTTP JSON API (polled, field mapping)")
        WEBHOOK = "webhook", _("Webhook push")
        FILE = "file", _("File import")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    platform = models.CharField(_("platform"), max_length=16, choices=PLATFORM_CHOICES)
    enabled = models.BooleanField(_("enabled"), default=True)
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    # Dotted paths for a polled JSON API: {"items": "data.list", "id": "mid", "text": ...}.
    mapping = models.JSONField(_("field mapping"), default=dict, blank=True)
    interval_seconds = models.PositiveIntegerField(_("poll interval (seconds)"), default=300)
    # Push sources: SHA-256 of the bearer token; the optional HMAC secret must be kept in
    # the clear because the signature is recomputed from it.
    token_hash = models.CharField(max_length=64, blank=True, editable=False)
    signing_secret = models.CharField(_("HMAC signing secret"), max_length=200, blank=True)

    # Conditional GET state.
    etag = models.CharField(max_length=500, blank=True, editable=False)
    last_modified = models.CharField(max_length=100, blank=True, editable=False)

    # Health and scheduling. A poll holds a lease (token + expiry) so at most one poll per
    # source runs at a time; a crashed poll's lease simply expires.
    next_poll_at = models.DateTimeField(null=True, blank=True, editable=False)
    poll_token = models.CharField(max_length=32, blank=True, editable=False)
    poll_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    backoff_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Start of the current failure streak: the page for a streak is sent once.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    paged_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        indexes = [models.Index(fields=["kind", "enabled", "next_poll_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_polled(self) -> bool:
        return self.kind in (self.Kind.FEED, self.Kind.JSON_API)

    @property
    def is_healthy(self) -> bool:
        return self.consecutive_failures == 0

    def token_matches(self, token: str) -> bool:
        if not self.token_hash or not token:
            return False
        return hmac.compare_digest(self.token_hash, token_digest(token))


class RawItem(models.Model):
    """The inbox: every payload received by a poll, a push, an upload or the command,
    stored before anything else is done with it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSING = "processing", _("Processing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    class Channel(models.TextChoices):
        WEBHOOK = "webhook", _("Webhook")
        POLL = "poll", _("Poll")
        UPLOAD = "upload", _("Upload")
        COMMAND = "command", _("Command")

    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="raw_items"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    body = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    content_type = models.CharField(max_length=200, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    # auto | json | jsonl | csv | rss | mapping (a polled JSON API: see ``options``).
    fmt = models.CharField(max_length=16, default="auto")
    default_platform = models.CharField(max_length=16, default="other")
    # A snapshot of what processing needs besides the body (the field mapping), so a
    # re-run does the same thing even if the source was edited since.
    options = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    parsed_format = models.CharField(max_length=32, blank=True)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("inbox payload")
        verbose_name_plural = _("inbox payloads")
        indexes = [models.Index(fields=["status", "claimed_at"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} {self.status}"

    @property
    def rejected_count(self) -> int:
        return len(self.rejected or [])


class MentionCluster(models.Model):
    """Mentions whose own words (repost chain removed) are the same or nearly the same.

    Keyed by the exact fingerprint of the first member's normalized text; later members
    join by that fingerprint or by a SimHash within the near-duplicate distance, found
    through four 16-bit bands (a distance of at most 3 shares at least one band exactly).
    """

    # Every index here is paid for on each insert of the ingest path, so only the lookups the
    # store makes are indexed: the exact fingerprint (a plain unique constraint: no LIKE
    # index) and the four bands. The time window is a filter on the band matches.
    text_hash = models.CharField(max_length=16)
    simhash = models.BigIntegerField()
    band0 = models.IntegerField(db_index=True)
    band1 = models.IntegerField(db_index=True)
    band2 = models.IntegerField(db_index=True)
    band3 = models.IntegerField(db_index=True)
    size = models.PositiveIntegerField(default=0)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("near-duplicate cluster")
        constraints = [models.UniqueConstraint(fields=["text_hash"], name="cluster_text_hash")]

    def __str__(self) -> str:
        return f"cluster {self.pk} ({self.size})"


class Mention(models.Model):
    platform = models.CharField(max_length=16, choices=PLATFORM_CHOICES)
    external_id = models.CharField(max_length=128)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="mentions"
    )
    # The payload that first brought this mention (audit, "what did this import add").
    raw_item = models.ForeignKey(
        RawItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="mentions"
    )
    text = models.TextField()
    title = models.CharField(max_length=500, blank=True)
    url = models.CharField(max_length=2000, blank=True)
    posted_at = models.DateTimeField()
    received_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    author_id = models.CharField(max_length=128, blank=True)
    author_name = models.CharField(max_length=200, blank=True)
    author_followers = models.BigIntegerField(null=True, blank=True)
    author_verified = models.BooleanField(default=False)
    location = models.CharField(max_length=100, blank=True)

    reposts = models.BigIntegerField(null=True, blank=True)
    comments = models.BigIntegerField(null=True, blank=True)
    likes = models.BigIntegerField(null=True, blank=True)
    views = models.BigIntegerField(null=True, blank=True)

    # Repost links as external ids (from the data, or resolved from a //@name: chain), and
    # the chain's names when the ids could not be resolved.
    parent_external_id = models.CharField(max_length=128, blank=True)
    root_external_id = models.CharField(max_length=128, blank=True)
    repost_parent_name = models.CharField(max_length=64, blank=True)
    repost_root_name = models.CharField(max_length=64, blank=True)

    simhash = models.BigIntegerField()
    text_hash = models.CharField(max_length=16)
    cluster = models.ForeignKey(
        MentionCluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="mentions"
    )

    sentiment = models.FloatField(null=True, blank=True)
    polarity = models.CharField(max_length=8, choices=Polarity.choices, blank=True)
    crisis_type = models.CharField(max_length=32, choices=CRISIS_TYPE_CHOICES, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    # Set when an analyst corrected polarity or type: a re-delivery must not overwrite it.
    corrected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "external_id"], name="mention_platform_external_id"
            )
        ]
        indexes = [
            models.Index(fields=["-posted_at"], name="mention_posted_desc"),
            models.Index(fields=["polarity", "-posted_at"], name="mention_polarity_posted"),
            models.Index(fields=["crisis_type", "-posted_at"], name="mention_type_posted"),
            models.Index(fields=["platform", "author_name"], name="mention_platform_author"),
        ]

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id}"

    @property
    def reach(self) -> int:
        """Potential audience: the author's followers, or the views when that is all we have."""
        return self.author_followers or self.views or 0

    @property
    def safe_url(self) -> str:
        """The URL only if it is http(s); anything else is never rendered as a link."""
        url = (self.url or "").strip()
        return url if url.lower().startswith(("http://", "https://")) else ""


class SentimentCorrection(models.Model):
    """An analyst's correction of a mention's polarity and/or crisis type.

    The latest correction of a mention is what counts; ``train_sentiment
    --include-corrections`` reads them as extra labelled examples.
    """

    mention = models.ForeignKey(Mention, on_delete=models.CASCADE, related_name="corrections")
    polarity = models.CharField(max_length=8, choices=Polarity.choices, blank=True)
    crisis_type = models.CharField(max_length=32, choices=CRISIS_TYPE_CHOICES, blank=True)
    previous_polarity = models.CharField(max_length=8, blank=True)
    previous_crisis_type = models.CharField(max_length=32, blank=True)
    # Snapshot of the text that was judged: the mention's text may be edited later.
    text = models.TextField()
    note = models.CharField(max_length=500, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("sentiment correction")
        verbose_name_plural = _("sentiment corrections")

    def __str__(self) -> str:
        return f"correction of {self.mention_id}"

    @property
    def label(self) -> int | None:
        """Training label: 1 positive, 0 negative, None when polarity was not corrected
        to one of the two (neutral is not a binary label)."""
        if self.polarity == Polarity.POSITIVE:
            return 1
        if self.polarity == Polarity.NEGATIVE:
            return 0
        return None


# --- watch topics, signals, alerts (issue 5) -------------------------------------------------


class Topic(models.Model):
    """What the team watches: a brand, a product, a spokesperson, a campaign.

    ``query`` and ``exclusions`` are in the language of docs/topics-query-language.md;
    ``platforms`` limits the topic to those platforms (empty = all); ``thresholds`` overrides
    the detection defaults (``DetectionConfig.from_dict``: ``{"volume": {"min_volume": 20}}``).
    ``updated_at`` is the matcher cache's version: every save bumps it.
    """

    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("description"), max_length=500, blank=True)
    query = models.TextField(_("query"))
    exclusions = models.TextField(_("exclusions"), blank=True)
    platforms = models.JSONField(_("platforms"), default=list, blank=True)
    thresholds = models.JSONField(_("detection thresholds"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("watch topic")
        verbose_name_plural = _("watch topics")

    def __str__(self) -> str:
        return self.name


class SensitiveTerm(models.Model):
    """One term of the sensitive-term library (敏感词库): stored folded, unique."""

    term = models.CharField(_("term"), max_length=100, unique=True)
    category = models.CharField(_("category"), max_length=32)
    weight = models.PositiveSmallIntegerField(_("weight"))
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["category", "-weight", "term"]
        verbose_name = _("sensitive term")
        verbose_name_plural = _("sensitive terms")

    def __str__(self) -> str:
        return self.term


class TopicBucket(models.Model):
    """Per-topic, per-platform, per-minute rollup, upserted (incremented) as mentions are
    stored. ``max_cluster`` is the most distinct accounts seen in one near-duplicate cluster
    (over the coordinated-posting window) among this minute's posts."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="buckets")
    minute = models.DateTimeField()
    platform = models.CharField(max_length=16)
    volume = models.PositiveIntegerField(default=0)
    negative = models.PositiveIntegerField(default=0)
    reach = models.BigIntegerField(default=0)
    negative_reach = models.BigIntegerField(default=0)
    engagement = models.BigIntegerField(default=0)
    max_cluster = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("topic bucket")
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "minute", "platform"], name="topicbucket_topic_minute_platform"
            )
        ]
        indexes = [models.Index(fields=["minute"], name="topicbucket_minute")]

    def __str__(self) -> str:
        return f"{self.topic_id}@{self.minute:%Y-%m-%d %H:%M} {self.platform}"


class MentionTopic(models.Model):
    """A mention matched a topic: the evidence behind buckets and alerts. The unique pair is
    what keeps a re-delivered mention from being counted twice."""

    mention = models.ForeignKey(Mention, on_delete=models.CASCADE, related_name="topic_links")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="mention_links")
    minute = models.DateTimeField()
    negative = models.BooleanField(default=False)
    reach = models.BigIntegerField(default=0)
    sensitive_weight = models.PositiveIntegerField(default=0)
    sensitive_terms = models.JSONField(default=list, blank=True)
    linked_at = models.DateTimeField()

    class Meta:
        verbose_name = _("topic match")
        constraints = [
            models.UniqueConstraint(fields=["mention", "topic"], name="mentiontopic_unique")
        ]
        indexes = [
            models.Index(fields=["topic", "-minute"], name="mentiontopic_topic_minute"),
            models.Index(fields=["topic", "-reach"], name="mentiontopic_topic_reach"),
        ]

    def __str__(self) -> str:
        return f"{self.mention_id} in {self.topic_id}"


class DetectorState(models.Model):
    """The per-topic detector state (``monitoring.detection.DetectorState.to_dict()``).
    ``version`` makes every write conditional: a worker that lost a race drops its result."""

    topic = models.OneToOneField(Topic, on_delete=models.CASCADE, related_name="detector_state")
    state = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=0)
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("detector state")

    def __str__(self) -> str:
        return f"detector of {self.topic_id}"


class AlertKind(models.TextChoices):
    VOLUME_SPIKE = "volume_spike", _("Volume spike")
    NEGATIVE_SURGE = "negative_surge", _("Negative surge")
    HIGH_REACH_NEGATIVE = "high_reach_negative", _("High-reach negative post")
    SENSITIVE_TERM = "sensitive_term", _("Sensitive-term hit")
    COORDINATED_POSTING = "coordinated_posting", _("Coordinated posting")


class Alert(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        DISMISSED = "dismissed", _("Dismissed")

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(_("kind"), max_length=32, choices=AlertKind.choices)
    # "<topic id>:<detector fingerprint>": one alert per episode; repeats only count.
    fingerprint = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    score = models.FloatField(default=0)
    reason = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    count = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    evidence = models.ManyToManyField(Mention, blank=True, related_name="alerts")
    incident = models.ForeignKey(
        "crisis.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="monitoring_alerts",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dismiss_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_seen_at", "-pk"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [models.Index(fields=["status", "-last_seen_at"], name="alert_status_seen")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def summary(self) -> str:
        """The reason in the reader's language, rebuilt from the metrics."""
        from monitoring.alert_text import alert_summary

        return alert_summary(self.kind, self.metrics or {}, self.reason)


class IncidentPropagation(models.Model):
    """The propagation summary of an incident's evidence (monitoring.propagation), refreshed
    by a task and kept for the post-mortem."""

    incident = models.OneToOneField(
        "crisis.Incident", on_delete=models.CASCADE, related_name="monitoring_propagation"
    )
    summary = models.JSONField(default=dict, blank=True)
    mention_count = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("incident propagation")

    def __str__(self) -> str:
        return f"propagation of {self.incident_id}"


class ScenarioRun(models.Model):
    """A scenario file replayed into a source's inbox, time-shifted to ``started_at``.

    The beat task pushes the posts that are due; ``next_index`` only moves forward through
    a conditional UPDATE, so two ticks never push the same post twice."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    scenario = models.CharField(max_length=200)
    source = models.ForeignKey(Source, null=True, on_delete=models.SET_NULL, related_name="+")
    speed = models.FloatField(default=1.0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    started_at = models.DateTimeField(null=True, blank=True)
    next_index = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("scenario run")

    def __str__(self) -> str:
        return f"{self.scenario} #{self.pk} {self.status}"

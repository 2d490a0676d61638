"""Every write of monitoring, one module per area, and the API the layers above may use.

Modules, in dependency order (a module imports only from those above it; none imports
``monitoring.tasks``: work for a worker is sent by task name through
``crisis.enqueue.send_on_commit``):

- ``thresholds``: a topic's detection config, the alerting time windows (settings).
- ``clusters``: near-duplicate clusters of new mentions (ingest hot path).
- ``topics``: watch topics, the sensitive-term library, the compiled matcher of both.
- ``incidents``: an incident's signals (severity escalation) and propagation summary.
- ``alerts``: raising an alert, routing it to an incident, the alert queue's actions.
- ``rollups``: matching, linking and per-minute counting of stored mentions.
- ``detection``: burst detection per topic, on the minute buckets.
- ``store``: ``mentions_store``, the bulk insert/update of a chunk (ingest hot path).
- ``inbox``: payloads stored before processing, claimed, parsed and stored.
- ``sources``: polled sources (leases, backoff, health) and push tokens.
- ``corrections``: analysts' corrections of a mention's analysis.
- ``scenarios``: scenario replay into a source's inbox (the demo, drills).

Reads that views, the API and commands share are in ``monitoring.selectors``.

For the layers above (response, review), the public API is:

- an incident's monitoring side: ``incident_refresh_signals``,
  ``incident_propagation_refresh``, ``topic_signals`` (the signals crisis.severity scores);
- alerts and incidents: ``alert_attach``, ``alert_open_incident``, ``AlertActionError``;
- the sensitive-term library as a matcher: ``compiled_rules().terms.scan(text)``;
- replaying a scenario (drills): ``scenario_run_create``, ``scenario_run_advance``,
  ``ScenarioError``.

Everything else below is for monitoring's own views, API, tasks, commands, demo data and
tests. The names are those the old ``monitoring.services``, ``monitoring.watch`` and
``monitoring.replay`` modules had, except four that now say what they do: the lookups
``inbox_stale_ids`` (was ``inbox_requeue_stale``) and ``open_incident_of_topic`` (was
``topic_open_incident``), and the lease claims ``sources_claim_due`` (was
``sources_dispatch_due``) and ``source_claim_poll_now`` (was ``source_request_poll``); the
caller enqueues what they claimed.
"""

from __future__ import annotations

from monitoring.services.alerts import (
    MAX_ALERT_TERMS,
    MAX_EVIDENCE,
    AlertActionError,
    alert_acknowledge,
    alert_attach,
    alert_dismiss,
    alert_open_incident,
    alert_raise,
    alert_route,
    open_incident_of_topic,
    open_incident_sharing_evidence,
)
from monitoring.services.corrections import mention_correct
from monitoring.services.detection import MINUTE, topic_detect, topics_detect_due
from monitoring.services.inbox import (
    ProcessOutcome,
    inbox_claim,
    inbox_enqueue,
    inbox_mark_failed,
    inbox_parse,
    inbox_process,
    inbox_receive,
    inbox_stale_ids,
    ingest_payload,
    max_body_bytes,
)
from monitoring.services.incidents import (
    HIGH_INFLUENCE_FOLLOWERS,
    PROPAGATION_MAX_POSTS,
    incident_propagation_refresh,
    incident_refresh_signals,
    incidents_refresh_open,
    propagations_refresh_open,
    topic_signals,
)
from monitoring.services.rollups import (
    PendingSignal,
    RollupResult,
    rollup_after_commit,
    topics_rollup,
)
from monitoring.services.scenarios import (
    SCENARIO_DIR,
    ScenarioError,
    scenario_load,
    scenario_next_due,
    scenario_path,
    scenario_run_advance,
    scenario_run_create,
    scenario_runs_advance,
)
from monitoring.services.sources import (
    source_backoff_seconds,
    source_claim_poll,
    source_claim_poll_now,
    source_create,
    source_poll,
    source_record_failure,
    source_record_success,
    source_rotate_token,
    source_set_token,
    sources_claim_due,
)
from monitoring.services.store import StoreResult, mentions_store
from monitoring.services.thresholds import (
    DEFAULT_OVERRIDES,
    alert_max_age,
    detection_config,
    detection_grace,
)
from monitoring.services.topics import (
    Compiled,
    TermsImport,
    compiled_rules,
    term_delete,
    term_save,
    terms_import,
    topic_create,
    topic_update,
    topic_validate,
)

__all__ = [
    "DEFAULT_OVERRIDES",
    "HIGH_INFLUENCE_FOLLOWERS",
    "MAX_ALERT_TERMS",
    "MAX_EVIDENCE",
    "MINUTE",
    "PROPAGATION_MAX_POSTS",
    "SCENARIO_DIR",
    "AlertActionError",
    "Compiled",
    "PendingSignal",
    "ProcessOutcome",
    "RollupResult",
    "ScenarioError",
    "StoreResult",
    "TermsImport",
    "alert_acknowledge",
    "alert_attach",
    "alert_dismiss",
    "alert_max_age",
    "alert_open_incident",
    "alert_raise",
    "alert_route",
    "compiled_rules",
    "detection_config",
    "detection_grace",
    "inbox_claim",
    "inbox_enqueue",
    "inbox_mark_failed",
    "inbox_parse",
    "inbox_process",
    "inbox_receive",
    "inbox_stale_ids",
    "incident_propagation_refresh",
    "incident_refresh_signals",
    "incidents_refresh_open",
    "ingest_payload",
    "max_body_bytes",
    "mention_correct",
    "mentions_store",
    "open_incident_of_topic",
    "open_incident_sharing_evidence",
    "propagations_refresh_open",
    "rollup_after_commit",
    "scenario_load",
    "scenario_next_due",
    "scenario_path",
    "scenario_run_advance",
    "scenario_run_create",
    "scenario_runs_advance",
    "source_backoff_seconds",
    "source_claim_poll",
    "source_claim_poll_now",
    "source_create",
    "source_poll",
    "source_record_failure",
    "source_record_success",
    "source_rotate_token",
    "source_set_token",
    "sources_claim_due",
    "term_delete",
    "term_save",
    "terms_import",
    "topic_create",
    "topic_detect",
    "topic_signals",
    "topic_update",
    "topic_validate",
    "topics_detect_due",
    "topics_rollup",
]

"""Every write of the incident core goes through a function of this package.

The modules, in dependency order (each imports only those before it):
``errors`` (the refusals), ``timeline`` (the timeline and shared helpers), ``audit``,
``heartbeat``, ``people`` (roles, teams, profiles, channels, tokens, roster),
``notifications`` (the ledger and deliveries), ``severity`` (severity and type),
``clocks`` (escalation policy, milestones, escalation and SLA scans), ``incidents``
(opening and moving an incident).

The public API for the apps above (monitoring, response, review) is ``PUBLIC_API``: opening
and moving an incident, meeting a milestone, adding a timeline event, notifying people, and
the refusals to derive their own errors from. Everything else in ``__all__`` is for crisis'
own views, API, tasks and commands.
"""

from __future__ import annotations

from crisis.services.audit import audit_record
from crisis.services.clocks import (
    STATEMENT_MILESTONES,
    _policy_snapshot,
    escalation_policy_default,
    escalation_policy_ensure,
    escalation_policy_update,
    escalation_scan,
    incident_record_statement,
    milestone_meet,
    milestone_record_by_hand,
    sla_scan,
)
from crisis.services.errors import (
    ConflictError,
    ForbiddenError,
    IncidentError,
    InvalidError,
    ServiceError,
)
from crisis.services.heartbeat import heartbeat_record
from crisis.services.incidents import (
    CLOSED_STATUSES,
    TRANSITIONS,
    incident_acknowledge,
    incident_merge,
    incident_open,
    incident_transition,
)
from crisis.services.notifications import (
    ack_token,
    ack_token_read,
    deliveries_release_due,
    delivery_attempt,
    notification_broadcast,
    notification_create,
    notification_message,
    notifications_mark_read,
)
from crisis.services.people import (
    _token_hash,
    api_token_authenticate,
    api_token_issue,
    api_token_revoke,
    duty_shift_create,
    duty_shift_delete,
    group_webhook_create,
    group_webhook_delete,
    team_member_add,
    team_member_remove,
    user_channel_add,
    user_channel_remove,
    user_profile_ensure,
    user_profile_update,
    user_set_roles,
)
from crisis.services.severity import (
    incident_raise_severity,
    incident_set_severity,
    incident_set_type,
    incident_update_signals,
)
from crisis.services.timeline import timeline_add

# What the apps above (monitoring, response, review) may call; the rest is crisis' own.
PUBLIC_API = (
    # refusals: derive an app's own errors from these
    "ConflictError",
    "ForbiddenError",
    "IncidentError",
    "InvalidError",
    "ServiceError",
    # opening and moving an incident
    "incident_open",
    "incident_transition",
    "incident_acknowledge",
    "incident_update_signals",
    "incident_raise_severity",
    # meeting a milestone
    "milestone_meet",
    "incident_record_statement",
    # adding a timeline event
    "timeline_add",
    # notifying people
    "notification_broadcast",
)

__all__ = [
    "CLOSED_STATUSES",
    "STATEMENT_MILESTONES",
    "TRANSITIONS",
    "ConflictError",
    "ForbiddenError",
    "IncidentError",
    "InvalidError",
    "ServiceError",
    "_policy_snapshot",
    "_token_hash",
    "ack_token",
    "ack_token_read",
    "api_token_authenticate",
    "api_token_issue",
    "api_token_revoke",
    "audit_record",
    "deliveries_release_due",
    "delivery_attempt",
    "duty_shift_create",
    "duty_shift_delete",
    "escalation_policy_default",
    "escalation_policy_ensure",
    "escalation_policy_update",
    "escalation_scan",
    "group_webhook_create",
    "group_webhook_delete",
    "heartbeat_record",
    "incident_acknowledge",
    "incident_merge",
    "incident_open",
    "incident_raise_severity",
    "incident_record_statement",
    "incident_set_severity",
    "incident_set_type",
    "incident_transition",
    "incident_update_signals",
    "milestone_meet",
    "milestone_record_by_hand",
    "notification_broadcast",
    "notification_create",
    "notification_message",
    "notifications_mark_read",
    "sla_scan",
    "team_member_add",
    "team_member_remove",
    "timeline_add",
    "user_channel_add",
    "user_channel_remove",
    "user_profile_ensure",
    "user_profile_update",
    "user_set_roles",
]

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from crisis.channels import channel_choices
from crisis.models import (
    Complexity,
    CrisisType,
    Department,
    GroupWebhook,
    MilestoneKind,
    Severity,
    ShiftPosition,
    Status,
    TeamRole,
)
from crisis.roles import ROLE_LABELS


class UserRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        choices=list(ROLE_LABELS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


# --- incident core --------------------------------------------------------------------------

PLATFORM_CHOICES = [
    ("weibo", _("Weibo")),
    ("wechat", _("WeChat")),
    ("douyin", _("Douyin")),
    ("xiaohongshu", _("Xiaohongshu")),
    ("zhihu", _("Zhihu")),
    ("bilibili", _("Bilibili")),
    ("news", _("News sites")),
    ("other", _("Other")),
]


class IncidentReportForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    summary = forms.CharField(
        label=_("What happened"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Who called, what they said, links to posts."),
    )
    crisis_type = forms.ChoiceField(
        label=_("Crisis type"),
        choices=[("", _("Not known yet")), *CrisisType.choices],
        required=False,
    )
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices, initial="minor")
    complexity = forms.ChoiceField(
        label=_("Complexity"), choices=Complexity.choices, initial="normal"
    )
    detected_at = forms.DateTimeField(
        label=_("Detected at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave empty for now."),
    )
    drill = forms.BooleanField(label=_("This is a drill"), required=False)


class TransitionForm(forms.Form):
    to = forms.ChoiceField(choices=Status.choices)
    reason = forms.CharField(required=False, max_length=2000)
    affected_platforms = forms.MultipleChoiceField(
        label=_("Affected platforms"), choices=PLATFORM_CHOICES, required=False
    )
    estimated_reach = forms.IntegerField(label=_("Estimated reach"), required=False, min_value=0)
    severity = forms.ChoiceField(
        label=_("Severity"), choices=[("", "—"), *Severity.choices], required=False
    )


class SeverityForm(forms.Form):
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000)


class CrisisTypeForm(forms.Form):
    crisis_type = forms.ChoiceField(label=_("Crisis type"), choices=CrisisType.choices)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000)


class MilestoneForm(forms.Form):
    kind = forms.ChoiceField(label=_("Milestone"), choices=MilestoneKind.choices)
    evidence_url = forms.URLField(
        label=_("Link"), required=False, assume_scheme="https", max_length=500
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)

    def clean_evidence_url(self) -> str:
        url = self.cleaned_data.get("evidence_url") or ""
        if url and not url.startswith(("http://", "https://")):
            raise forms.ValidationError(_("The link must start with http:// or https://."))
        return url


class TeamMemberForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("Person"), queryset=User.objects.filter(is_active=True).order_by("username")
    )
    role = forms.ChoiceField(label=_("Role on the team"), choices=TeamRole.choices)
    department = forms.ChoiceField(
        label=_("Department"),
        choices=[("", _("From their profile")), *Department.choices],
        required=False,
    )


class MergeForm(forms.Form):
    survivor = forms.IntegerField(label=_("Merge into incident number"), min_value=1)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000)


class ShiftForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("Person"), queryset=User.objects.filter(is_active=True).order_by("username")
    )
    position = forms.ChoiceField(label=_("Position"), choices=ShiftPosition.choices)
    start = forms.DateTimeField(
        label=_("Start"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end = forms.DateTimeField(
        label=_("End"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise forms.ValidationError(_("A shift must end after it starts."))
        return data


class PolicyForm(forms.Form):
    backup_after_minutes = forms.IntegerField(
        label=_("Page the backup after (minutes)"), min_value=1, max_value=24 * 60
    )
    managers_after_minutes = forms.IntegerField(
        label=_("Page the managers after (minutes)"), min_value=1, max_value=24 * 60
    )
    warning_fractions = forms.CharField(
        label=_("Warn at these fractions of the time allowed"),
        help_text=_("Comma separated, e.g. 0.5, 0.8"),
        required=False,
    )
    progress_cadence_minutes = forms.IntegerField(
        label=_("Progress update every (minutes)"), min_value=5, max_value=7 * 24 * 60
    )
    breach_raises_severity = forms.MultipleChoiceField(
        label=_("A breach of these milestones raises severity one step"),
        choices=MilestoneKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean_warning_fractions(self) -> list[float]:
        raw = self.cleaned_data.get("warning_fractions") or ""
        try:
            values = [float(p) for p in raw.replace("，", ",").split(",") if p.strip()]
        except ValueError:
            raise forms.ValidationError(
                _("Enter numbers between 0 and 1, e.g. 0.5, 0.8.")
            ) from None
        if any(not 0 < v < 1 for v in values):
            raise forms.ValidationError(_("Enter numbers between 0 and 1, e.g. 0.5, 0.8."))
        return sorted(values)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        backup, managers = data.get("backup_after_minutes"), data.get("managers_after_minutes")
        if backup and managers and managers <= backup:
            raise forms.ValidationError(_("Managers must be paged later than the backup."))
        return data


class ProfileForm(forms.Form):
    department = forms.ChoiceField(label=_("Department"), choices=Department.choices)
    email_enabled = forms.BooleanField(label=_("Send me e-mail"), required=False)


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(label=_("Channel"), choices=channel_choices)
    address = forms.CharField(
        label=_("Address"),
        max_length=500,
        help_text=_("E-mail address, or the bot's webhook URL (or just its key)."),
    )
    secret = forms.CharField(label=_("Signing secret"), max_length=200, required=False)
    base_url = forms.CharField(
        label=_("Base URL (private deployment)"), max_length=300, required=False
    )


class GroupWebhookForm(ChannelForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    audience = forms.ChoiceField(
        label=_("Audience"),
        choices=[
            (GroupWebhook.AUDIENCE_TEAM, _("Every incident team")),
            *list(ROLE_LABELS.items()),
        ],
    )

    field_order = ["name", "audience", "kind", "address", "secret", "base_url"]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("What is it for"), max_length=100, required=False)

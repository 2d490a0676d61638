from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from monitoring.models import CRISIS_TYPE_GROUPS, PLATFORM_CHOICES, Polarity, Source
from monitoring.selectors import StreamFilters
from monitoring.services import detection_config

_ANY: list[Any] = [("", _("Any"))]


class StreamFilterForm(forms.Form):
    platform = forms.ChoiceField(
        label=_("Platform"), choices=_ANY + PLATFORM_CHOICES, required=False
    )
    polarity = forms.ChoiceField(
        label=_("Sentiment"), choices=_ANY + list(Polarity.choices), required=False
    )
    crisis_type = forms.ChoiceField(
        label=_("Crisis type"), choices=_ANY + CRISIS_TYPE_GROUPS, required=False
    )
    source = forms.ChoiceField(label=_("Source"), choices=(), required=False)
    time_range = forms.ChoiceField(
        label=_("Time"),
        required=False,
        choices=[
            ("", _("Any time")),
            ("1h", _("Last hour")),
            ("24h", _("Last 24 hours")),
            ("7d", _("Last 7 days")),
            ("30d", _("Last 30 days")),
        ],
    )
    q = forms.CharField(label=_("Text contains"), required=False, max_length=100)
    batch = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    cluster = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        source_field = cast(forms.ChoiceField, self.fields["source"])
        source_field.choices = _ANY + list(
            Source.objects.order_by("name").values_list("slug", "name")
        )
        self.fields["q"].widget.attrs["type"] = "search"

    def filters(self) -> StreamFilters:
        if not self.is_valid():
            return StreamFilters()
        data = self.cleaned_data
        return StreamFilters(
            platform=data["platform"],
            polarity=data["polarity"],
            crisis_type=data["crisis_type"],
            source=data["source"],
            time_range=data["time_range"],
            q=data["q"].strip(),
            batch=data["batch"],
            cluster=data["cluster"],
        )


class CorrectionForm(forms.Form):
    polarity = forms.ChoiceField(
        label=_("Sentiment"),
        choices=[("", _("Unchanged")), *list(Polarity.choices)],
        required=False,
    )
    crisis_type = forms.ChoiceField(
        label=_("Crisis type"),
        choices=[("-", _("Unchanged")), ("", _("None")), *CRISIS_TYPE_GROUPS],
        required=False,
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("polarity") and data.get("crisis_type", "-") == "-":
            raise forms.ValidationError(_("Choose a sentiment or a crisis type to correct."))
        return data

    @property
    def crisis_type_value(self) -> str | None:
        value = self.cleaned_data.get("crisis_type", "-")
        return None if value == "-" else value


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File"))
    source = forms.ModelChoiceField(
        label=_("Source"),
        queryset=Source.objects.order_by("name"),
        required=False,
        to_field_name="slug",
        empty_label=_("(none)"),
    )
    fmt = forms.ChoiceField(
        label=_("Format"),
        choices=[
            ("auto", _("Detect automatically")),
            ("jsonl", "JSON Lines"),
            ("json", "JSON"),
            ("csv", "CSV"),
            ("rss", "RSS / Atom"),
        ],
        initial="auto",
    )

    def __init__(self, *args: Any, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                _("The file is %(size)s bytes; the limit is %(limit)s bytes.")
                % {"size": upload.size, "limit": self.max_bytes}
            )
        return upload


# --- watch topics, terms, alerts (issue 5) ---------------------------------------------------


def query_error_message(exc: Any) -> str:
    """A translated message for a monitoring.rules.QuerySyntaxError (by its code)."""
    from django.utils.translation import gettext

    return gettext("Query error at character %(pos)d: %(message)s") % {
        "pos": exc.position + 1,
        "message": exc.message,
    }


class TopicForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    description = forms.CharField(label=_("Description"), max_length=500, required=False)
    query = forms.CharField(
        label=_("Query"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("AND / OR / NOT, quoted phrases, NEAR/n, platform: author: location:"),
    )
    exclusions = forms.CharField(
        label=_("Exclusions"),
        max_length=4000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text=_("A post matching this query is dropped even when the main query matches."),
    )
    platforms = forms.MultipleChoiceField(
        label=_("Platforms"),
        choices=PLATFORM_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None selected: every platform."),
    )
    thresholds = forms.JSONField(
        label=_("Detection thresholds (overrides)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_(
            'JSON, e.g. {"volume": {"min_volume": 20}, "sensitive": {"weight_threshold": 10}}'
        ),
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (field, error) for the inline highlight of a syntax error.
        self.syntax_errors: dict[str, Any] = {}

    def _clean_query_field(self, name: str) -> str:
        from monitoring.rules import QuerySyntaxError, parse_query

        value = cast(str, self.cleaned_data.get(name) or "")
        if not value.strip():
            return value
        try:
            parse_query(value)
        except QuerySyntaxError as exc:
            self.syntax_errors[name] = exc
            raise forms.ValidationError(query_error_message(exc)) from exc
        return value

    def clean_query(self) -> str:
        return self._clean_query_field("query")

    def clean_exclusions(self) -> str:
        return self._clean_query_field("exclusions")

    def clean_thresholds(self) -> dict[str, Any]:
        value = self.cleaned_data.get("thresholds") or {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Thresholds must be a JSON object."))
        try:
            detection_config(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return value


class TermForm(forms.Form):
    term = forms.CharField(label=_("Term"), max_length=100)
    category = forms.ChoiceField(label=_("Category"), choices=())
    weight = forms.IntegerField(label=_("Weight"), min_value=1, max_value=10, initial=5)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from monitoring.rules import CATEGORIES

        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["category"]).choices = list(CATEGORIES.items())


class TermsImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    replace = forms.BooleanField(
        label=_("Replace the library (delete terms the file does not list)"), required=False
    )


class AlertDismissForm(forms.Form):
    reason = forms.CharField(label=_("Why is it a false positive?"), max_length=2000)


class AlertAttachForm(forms.Form):
    incident = forms.IntegerField(label=_("Incident number"), min_value=1)

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crisis.roles import ROLE_LABELS


class UserRolesForm(forms.Form):
    roles = forms.MultipleChoiceField(
        label=_("Roles"),
        choices=list(ROLE_LABELS.items()),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ResponseConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "response"
    verbose_name = _("Response")

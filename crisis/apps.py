from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class CrisisConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crisis"
    verbose_name = _("Incidents")

    def ready(self) -> None:
        # Each app registers its own panel on the incident page (crisis/panels.py).
        autodiscover_modules("panels")
